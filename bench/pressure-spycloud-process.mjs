// Child process of the byte-cap figure (fair-share.mjs): the SpyCloud sandbox for
// the light tenant, and for the heavy tenant's key slow answers of `answerMiB`
// MiB each, their length declared, trickled in 1 MiB pieces over `answerSeconds`
// (honouring back-pressure: a relay that pauses its reading pauses the trickle;
// a relay that gives up on the answer ends it).
// The body is a valid empty page padded with whitespace, so the relay's cost of
// parsing it stays small and the figure measures the byte cap, not JSON.parse.
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';
import { spycloudHandler, startStandIn } from '../dist/sandbox/index.js';

const MiB = 1 << 20;

process.once('message', async ({ worlds, latencyMs, lightKey, heavyKey, answerMiB, answerSeconds }) => {
  const sandbox = spycloudHandler({
    dataset: { records: worlds.flatMap((w) => w.records), catalogs: worlds.flatMap((w) => w.catalogs), watchlist: [] },
    apiKeys: [lightKey, heavyKey],
  });
  const head = '{"cursor":"","hits":0,"results":[]';
  const piece = Buffer.alloc(MiB, ' ');
  const total = answerMiB * MiB;
  const stepMs = (answerSeconds * 1000) / answerMiB;
  let slowAnswers = 0;
  const slow = async (res) => {
    slowAnswers += 1;
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(total) });
    let closed = false;
    res.once('close', () => {
      closed = true;
    });
    res.write(head);
    let sent = head.length;
    while (!closed && sent + MiB < total - 1) {
      await sleep(stepMs);
      if (!res.write(piece)) {
        await new Promise((resolve) => {
          const done = () => {
            res.off('drain', done).off('close', done);
            resolve();
          };
          res.on('drain', done).on('close', done);
        });
      }
      sent += MiB;
    }
    if (!closed) res.end(`${' '.repeat(total - sent - 1)}}`);
  };
  const server = await startStandIn({}, {
    latencyMs,
    fallback: (req, res, seen) => {
      if (seen.headers['x-api-key'] === heavyKey && seen.path.startsWith('/breach/data/emails/')) return slow(res);
      return sandbox(req, res, seen);
    },
  });
  process.on('message', () => process.send({ slowAnswers }));
  process.once('disconnect', () => {
    server.server.closeAllConnections();
    void server.close();
  });
  process.send({ url: server.url });
});
