// `@remit/hubspot/testing`: sign a request as HubSpot would, to test your own Remit endpoint (or a
// fake of HubSpot) without HubSpot. Not for production code.
export { signV2, signV3 } from './signature.ts'
