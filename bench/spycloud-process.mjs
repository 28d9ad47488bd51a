// Child process of forkSpyCloud (world.mjs): runs the SpyCloud sandbox and
// answers the bench over IPC; exits when the bench disconnects.
import process from 'node:process';
import { startSpyCloud } from './world.mjs';

process.once('message', async ({ worlds, latencyMs, apiKey }) => {
  const spycloud = await startSpyCloud(worlds, latencyMs, apiKey);
  process.on('message', () => process.send(spycloud.calls()));
  process.once('disconnect', () => void spycloud.close());
  process.send({ url: spycloud.url });
});
