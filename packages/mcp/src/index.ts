export { type Forward, Gate, type GateMeta, type GateOptions } from './gate.ts'
export { type Gateway, type GatewayOptions, openGateway } from './gateway.ts'
export { type Begun, CallHold, type HeldCall, type HeldStatus } from './hold.ts'
export { type ListeningGateway, type ListenOptions, listenGateway, remitServerKeys } from './listen.ts'
export {
  checkToolMap,
  type FactSource,
  type GatedTool,
  loadToolMap,
  loadToolMapFile,
  type PassthroughTool,
  type ToolMap,
  type ToolMapCheck,
  ToolMapError,
  type ToolRoute,
} from './map/load.ts'
export { CallMappingError, type CallRequest, callDigest, callRequest } from './map/request.ts'
export {
  type Answer,
  type HeldReview,
  type RemitSeam,
  type RemitTarget,
  RemitUnavailable,
  remitSeam,
} from './remit.ts'
export { type RemitToolsOptions, remitToolsServer } from './tools.ts'
export { httpUpstream, serveStdio, stdioUpstream } from './transports.ts'
