// The Flow pattern Salesforce allows, shipped as metadata (Flow Builder opens these; they deploy as
// drafts to adapt and activate):
// - a record-triggered flow makes the callout on its asynchronous path ("Run Asynchronously":
//   Salesforce blocks callouts on a record-triggered flow's synchronous path), then on go does the
//   touch, on flag keeps the review id on the record, on stop (or a failed callout) records stop;
// - a platform event-triggered flow on Remit_Review__e resumes: it finds the record waiting for that
//   review and, on go, does the touch (a Pause element is documented for autolaunched flows only);
// - record-triggered flows on Task and Event creation record reps' activity as touches.
// Element order follows the Metadata API's schema (base type's elements first, then alphabetical).

/** The example flows for one agent's External Service registration. */
export interface FlowOptions {
  /** The agent's API name (`Remit_sales_agent`): its registration is `<name>.<operationId>`. */
  registration: string
  /** Check flows: the flow API name (the agent's tool `salesforce:flow/<name>`) and the action kind. */
  checks: { name: string; kind: string }[]
  /** Record Tasks and Events as this registration's touches. */
  activity: boolean
  apiVersion: string
}

type Node = [string, (Node | string | number | boolean)[] | string | number | boolean]

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

function render(node: Node, indent = ''): string {
  const [name, value] = node
  if (!Array.isArray(value)) return `${indent}<${name}>${esc(String(value))}</${name}>\n`
  return `${indent}<${name}>\n${value.map((c) => render(c as Node, `${indent}    `)).join('')}${indent}</${name}>\n`
}

const doc = (root: string, children: Node[]) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<${root} xmlns="http://soap.sforce.com/2006/04/metadata">\n${children.map((c) => render(c, '    ')).join('')}</${root}>\n`

const ref = (to: string): Node => ['elementReference', to]
const text = (s: string): Node => ['stringValue', s]
const connector = (target: string, name = 'connector'): Node => [name, [['targetReference', target]]]
const at = (x: number, y: number): Node[] => [
  ['locationX', x],
  ['locationY', y],
]
const assign = (to: string, value: Node): Node => [
  'assignmentItems',
  [
    ['assignToReference', to],
    ['operator', 'Assign'],
    ['value', [value]],
  ],
]
const field = (f: string, value: Node): Node => [
  'inputAssignments',
  [
    ['field', f],
    ['value', [value]],
  ],
]
const condition = (left: string, operator: string, right: Node): Node => [
  'conditions',
  [
    ['leftValueReference', left],
    ['operator', operator],
    ['rightValue', [right]],
  ],
]
const apexVariable = (name: string, apexClass: string): Node => [
  'variables',
  [
    ['name', name],
    ['apexClass', apexClass],
    ['dataType', 'Apex'],
    ['isCollection', false],
    ['isInput', false],
    ['isOutput', false],
  ],
]
const externalService = (
  name: string,
  label: string,
  action: string,
  body: string,
  next?: { then: string; fault: string },
): Node => [
  'actionCalls',
  [
    ['name', name],
    ['label', label],
    ...at(176, 300),
    ['actionName', action],
    ['actionType', 'externalService'],
    ...(next ? [connector(next.then), connector(next.fault, 'faultConnector')] : []),
    ['flowTransactionModel', 'CurrentTransaction'],
    [
      'inputParameters',
      [
        ['name', 'body'],
        ['value', [ref(body)]],
      ],
    ],
    ['nameSegment', action],
    ['storeOutputAutomatically', true],
  ],
]
/** The record-triggered start: after save, on create, with the asynchronous path. */
const afterCreate = (object: string, first: string): Node => [
  'start',
  [
    ...at(50, 0),
    ['object', object],
    ['recordTriggerType', 'Create'],
    ['scheduledPaths', [connector(first), ['pathType', 'AsyncAfterCommit']]],
    ['triggerType', 'RecordAfterSave'],
  ],
]
const flow = (
  o: FlowOptions,
  label: string,
  description: string,
  elements: Node[],
  start: Node,
  variables: Node[],
) =>
  doc('Flow', [
    ...elements.filter((e) => e[0] === 'actionCalls'),
    ['apiVersion', o.apiVersion],
    ...elements.filter((e) => e[0] === 'assignments'),
    ...elements.filter((e) => e[0] === 'decisions'),
    ['description', description],
    ...elements.filter((e) => e[0] === 'formulas'),
    ['label', label],
    ['processType', 'AutoLaunchedFlow'],
    ...elements.filter((e) => e[0] === 'recordCreates'),
    ...elements.filter((e) => e[0] === 'recordLookups'),
    ...elements.filter((e) => e[0] === 'recordUpdates'),
    start,
    // Drafts: an admin opens, adapts (the object, the kind, the touch) and activates them.
    ['status', 'Draft'],
    ...variables,
  ])

const followUp = (name: string, kind: string): Node => [
  'recordCreates',
  [
    ['name', name],
    ['label', 'Create the follow-up task'],
    ...at(50, 600),
    field('OwnerId', ref('$Record.OwnerId')),
    field('Subject', text(`Remit said go: ${kind}`)),
    field('WhatId', ref('$Record.Id')),
    ['object', 'Task'],
    ['storeOutputAutomatically', true],
  ],
]

/** A record-triggered flow on Opportunity that checks with Remit before its touch. */
function checkFlow(o: FlowOptions, check: { name: string; kind: string }): string {
  const out = 'Check_with_Remit.200'
  return flow(
    o,
    check.name.replace(/_/g, ' '),
    `Checks with Remit (${check.kind}) on the asynchronous path, then touches the customer only on go. On flag it keeps the review id on the record; the Remit Review Resume flow finishes when the review is answered.`,
    [
      [
        'assignments',
        [
          ['name', 'Build_the_request'],
          ['label', 'Build the request'],
          ...at(176, 150),
          assign('request.kind', text(check.kind)),
          assign('request.accountId', ref('$Record.AccountId')),
          assign('request.idempotencyKey', ref('$Record.Id')),
          connector('Check_with_Remit'),
        ],
      ],
      externalService(
        'Check_with_Remit',
        'Check with Remit',
        `${o.registration}.checkWithRemit`,
        'request',
        // A failed callout is a stop: fail closed.
        { then: 'Verdict', fault: 'Record_stop' },
      ),
      [
        'decisions',
        [
          ['name', 'Verdict'],
          ['label', 'Verdict'],
          ...at(176, 450),
          // No answer, or anything but go or flag: stop. Fail closed.
          connector('Record_stop', 'defaultConnector'),
          ['defaultConnectorLabel', 'Stop'],
          [
            'rules',
            [
              ['name', 'Go'],
              ['conditionLogic', 'and'],
              condition(`${out}.verdict`, 'EqualTo', text('go')),
              connector('Create_the_follow_up_task'),
              ['label', 'Go'],
            ],
          ],
          [
            'rules',
            [
              ['name', 'Flag'],
              ['conditionLogic', 'and'],
              condition(`${out}.verdict`, 'EqualTo', text('flag')),
              connector('Keep_the_review'),
              ['label', 'Flag'],
            ],
          ],
        ],
      ],
      followUp('Create_the_follow_up_task', check.kind),
      [
        'recordUpdates',
        [
          ['name', 'Keep_the_review'],
          ['label', 'Keep the review'],
          ...at(300, 600),
          field('Remit_Review_Id__c', ref(`${out}.reviewId`)),
          field('Remit_Verdict__c', text('flag')),
          ['inputReference', '$Record'],
        ],
      ],
      [
        'recordUpdates',
        [
          ['name', 'Record_stop'],
          ['label', 'Record stop'],
          ...at(450, 600),
          field('Remit_Verdict__c', text('stop')),
          ['inputReference', '$Record'],
        ],
      ],
    ],
    afterCreate('Opportunity', 'Build_the_request'),
    [apexVariable('request', `ExternalService__${o.registration}_CheckWithRemitRequest`)],
  )
}

/** Resumes on Remit_Review__e: the record waiting for that review gets its verdict, and on go its touch. */
function resumeFlow(o: FlowOptions): string {
  return flow(
    o,
    'Remit Review Resume',
    'When Remit answers a review (the Remit_Review__e platform event), finds the record that was waiting for it and, on go, does the touch.',
    [
      [
        'decisions',
        [
          ['name', 'Approved'],
          ['label', 'Approved'],
          ...at(176, 300),
          connector('Record_the_verdict', 'defaultConnector'),
          ['defaultConnectorLabel', 'Not go'],
          [
            'rules',
            [
              ['name', 'Go'],
              ['conditionLogic', 'and'],
              condition('Find_the_waiting_record', 'IsNull', ['booleanValue', false]),
              condition('$Record.Verdict__c', 'EqualTo', text('go')),
              connector('Create_the_follow_up_task'),
              ['label', 'Go'],
            ],
          ],
        ],
      ],
      [
        'recordCreates',
        [
          ['name', 'Create_the_follow_up_task'],
          ['label', 'Create the follow-up task'],
          ...at(50, 450),
          connector('Record_the_verdict'),
          field('OwnerId', ref('Find_the_waiting_record.OwnerId')),
          field('Subject', text('Remit said go after review')),
          field('WhatId', ref('Find_the_waiting_record.Id')),
          ['object', 'Task'],
          ['storeOutputAutomatically', true],
        ],
      ],
      [
        'recordLookups',
        [
          ['name', 'Find_the_waiting_record'],
          ['label', 'Find the waiting record'],
          ...at(176, 150),
          ['assignNullValuesIfNoRecordsFound', false],
          connector('Approved'),
          ['filterLogic', 'and'],
          [
            'filters',
            [
              ['field', 'Remit_Review_Id__c'],
              ['operator', 'EqualTo'],
              ['value', [ref('$Record.ReviewId__c')]],
            ],
          ],
          ['getFirstRecordOnly', true],
          ['object', 'Opportunity'],
          ['storeOutputAutomatically', true],
        ],
      ],
      [
        'recordUpdates',
        [
          ['name', 'Record_the_verdict'],
          ['label', 'Record the verdict'],
          ...at(176, 600),
          ['filterLogic', 'and'],
          [
            'filters',
            [
              ['field', 'Remit_Review_Id__c'],
              ['operator', 'EqualTo'],
              ['value', [ref('$Record.ReviewId__c')]],
            ],
          ],
          field('Remit_Verdict__c', ref('$Record.Verdict__c')),
          ['object', 'Opportunity'],
        ],
      ],
    ],
    [
      'start',
      [
        ...at(50, 0),
        connector('Find_the_waiting_record'),
        ['object', 'Remit_Review__e'],
        ['triggerType', 'PlatformEvent'],
      ],
    ],
    [],
  )
}

/** Records a Task or Event a rep logs as a touch of the registration's agent's team. */
function activityFlow(o: FlowOptions, object: 'Task' | 'Event'): string {
  const kind: Node = object === 'Task' ? ['elementReference', 'Touch_kind'] : text('meeting')
  return flow(
    o,
    `Remit Record ${object}`,
    `Records each ${object} a rep logs as a touch in Remit's ledger (on the asynchronous path: a callout), so rules see reps' activity.`,
    [
      [
        'assignments',
        [
          ['name', 'Build_the_touch'],
          ['label', 'Build the touch'],
          ...at(176, 150),
          assign('touch.kind', kind),
          assign('touch.accountId', ref('$Record.AccountId')),
          assign('touch.contactId', ref('$Record.WhoId')),
          assign('touch.recordId', ref('$Record.Id')),
          connector('Record_the_touch'),
        ],
      ],
      // A failed callout fails the interview, and Salesforce tells the flow's admin.
      externalService('Record_the_touch', 'Record the touch', `${o.registration}.recordTouch`, 'touch'),
      ...(object === 'Task'
        ? ([
            [
              'formulas',
              [
                ['name', 'Touch_kind'],
                ['dataType', 'String'],
                [
                  'expression',
                  "CASE(TEXT({!$Record.TaskSubtype}), 'Call', 'call', 'Email', 'email.crm', 'task')",
                ],
              ],
            ],
          ] as Node[])
        : []),
    ],
    afterCreate(object, 'Build_the_touch'),
    [apexVariable('touch', `ExternalService__${o.registration}_RecordTouchRequest`)],
  )
}

/** The custom fields the check and resume flows keep on the Opportunity. */
function opportunityField(name: string, label: string, length: number): string {
  return doc('CustomField', [
    ['fullName', name],
    ['externalId', false],
    ['label', label],
    ['length', length],
    ['required', false],
    ['type', 'Text'],
    ['unique', false],
  ])
}

/** The flow files and the fields they need, by path under force-app/main/default. */
export function flowFiles(o: FlowOptions): Record<string, string> {
  const files: Record<string, string> = {}
  for (const check of o.checks) files[`flows/${check.name}.flow-meta.xml`] = checkFlow(o, check)
  if (o.checks.length) {
    files['flows/Remit_Review_Resume.flow-meta.xml'] = resumeFlow(o)
    files['objects/Opportunity/fields/Remit_Review_Id__c.field-meta.xml'] = opportunityField(
      'Remit_Review_Id__c',
      'Remit Review Id',
      64,
    )
    files['objects/Opportunity/fields/Remit_Verdict__c.field-meta.xml'] = opportunityField(
      'Remit_Verdict__c',
      'Remit Verdict',
      8,
    )
  }
  if (o.activity) {
    files['flows/Remit_Record_Task.flow-meta.xml'] = activityFlow(o, 'Task')
    files['flows/Remit_Record_Event.flow-meta.xml'] = activityFlow(o, 'Event')
  }
  return files
}
