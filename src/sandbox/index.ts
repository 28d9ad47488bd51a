// The SpyCloud and XDR sandboxes, for the demo, the tests and the bench (dist/sandbox/index.js).
export * from './dataset.js';
export * from './spycloud.js';
export * from './stand-in.js';
export * from './xdr.js';
