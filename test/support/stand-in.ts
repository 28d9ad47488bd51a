// The loopback upstream stand-in now lives in src/sandbox (the demo and the bench use it too).
export { json, startStandIn, type Handler, type Seen, type StandIn } from '../../src/sandbox/stand-in.js';
