// Runs node-redis and ioredis, each with its default options (both negotiate RESP3 with HELLO 3), against one
// Redis endpoint: MULTI/EXEC on keys of one hash tag, a SUBSCRIBE/PUBLISH round trip, and a BLPOP woken by an
// LPUSH from another connection. Prints one line per step, "library step ok" or "library step FAIL reason", and
// exits 0 only when every step passed. Every wait is bounded, so an endpoint that never answers fails the step.
//
//   node node-battery.mjs HOST PORT      (tools/clients/run.sh installs the packages first)
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient } from 'redis';
import { Redis } from 'ioredis';

const STEP_TIMEOUT_MS = 10_000;
const BLPOP_TIMEOUT_SECONDS = 5;
const PUSH_DELAY_MS = 300;

const [host, portText] = process.argv.slice(2);
const port = Number(portText);
if (!host || !Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error('usage: node node-battery.mjs HOST PORT');
  process.exit(2);
}

const require = createRequire(import.meta.url);
console.log(`# node ${process.version}, redis ${require('redis/package.json').version}, ioredis ${require('ioredis/package.json').version}, target ${host}:${port}`);

let failures = 0;
process.on('unhandledRejection', (error) => {
  failures++;
  console.log(`# unhandled rejection: ${String(error?.message ?? error).replace(/\s+/g, ' ')}`);
});

function report(library, step, error) {
  if (error === undefined) {
    console.log(`${library} ${step} ok`);
    return;
  }

  failures++;
  const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  console.log(`${library} ${step} FAIL ${reason.replace(/\s+/g, ' ').trim()}`);
}

function bounded(promise, what, ms = STEP_TIMEOUT_MS) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function check(condition, message) {
  if (!condition) {
    throw new Error(message);
  }
}

/** The outcome of a promise started now and awaited later, so a rejection in between is not unhandled. */
function later(promise) {
  const outcome = promise.then((value) => ({ value }), (error) => ({ error }));
  return async () => {
    const { value, error } = await outcome;
    if (error !== undefined) {
      throw error;
    }

    return value;
  };
}

function show(value) {
  return JSON.stringify(value);
}

/**
 * One library's battery. `lib` adapts the library: connect a new client, and the three steps in its own API.
 * A step that cannot run because connecting failed is reported as failed, never skipped.
 */
async function battery(library, lib) {
  const errors = [];
  const clients = [];
  const tag = `{nb-${library}-${randomBytes(4).toString('hex')}}`;
  const open = async (role) => {
    const client = lib.create(role, (error) => errors.push(`${role}: ${error?.message ?? error}`));
    clients.push(client);
    await bounded(lib.connect(client), `${role} connect`);
    return client;
  };

  let main;
  try {
    main = await open('main');
    report(library, 'connect', undefined);
  } catch (error) {
    report(library, 'connect', error);
  }

  const steps = [
    ['multi-exec', async () => lib.multiExec(main, `${tag}:a`, `${tag}:b`)],
    ['pubsub', async () => lib.pubSub(main, await open('subscriber'), `${tag}:channel`)],
    ['blpop', async () => lib.blpop(main, await open('blocker'), `${tag}:list`)],
  ];
  for (const [step, run] of steps) {
    if (main === undefined) {
      report(library, step, new Error('not run: the client did not connect'));
      continue;
    }

    try {
      await bounded(run(), step, STEP_TIMEOUT_MS + BLPOP_TIMEOUT_SECONDS * 1000);
      report(library, step, undefined);
    } catch (error) {
      report(library, step, error);
    }
  }

  report(library, 'error-events', errors.length === 0 ? undefined : new Error(`${errors.length} error event(s): ${errors.slice(0, 3).join(' | ')}`));

  if (main !== undefined) {
    await bounded(lib.del(main, [`${tag}:a`, `${tag}:b`, `${tag}:list`]), 'cleanup', 2000).catch(() => {});
  }

  for (const client of clients) {
    try {
      lib.close(client);
    } catch {
      // Closing is best effort: the process exits right after.
    }
  }
}

const nodeRedis = {
  create(role, onError) {
    // Defaults (RESP3, reconnect strategy, client info); only the address is given.
    const client = createClient({ socket: { host, port } });
    client.on('error', onError);
    return client;
  },
  connect: (client) => client.connect(),
  async multiExec(client, a, b) {
    const replies = await client.multi().set(a, '1').incr(b).get(a).exec();
    check(show(replies) === show(['OK', 1, '1']), `EXEC answered ${show(replies)}, expected ["OK",1,"1"]`);
  },
  async pubSub(client, subscriber, channel) {
    let delivered;
    const received = new Promise((resolve) => {
      delivered = resolve;
    });
    await subscriber.subscribe(channel, (message, from) => delivered({ message, from }));
    const receivers = await client.publish(channel, 'hello');
    check(receivers === 1, `PUBLISH reached ${show(receivers)} subscribers, expected 1`);
    const got = await bounded(received, 'message delivery');
    check(got.message === 'hello' && got.from === channel, `received ${show(got)}`);
  },
  async blpop(client, blocker, key) {
    const started = Date.now();
    const popped = later(blocker.blPop(key, BLPOP_TIMEOUT_SECONDS));
    await sleep(PUSH_DELAY_MS);
    const length = await client.lPush(key, 'job');
    check(length === 1, `LPUSH answered ${show(length)}`);
    const reply = await popped();
    const elapsed = Date.now() - started;
    check(reply?.key === key && reply?.element === 'job', `BLPOP answered ${show(reply)}`);
    check(elapsed < BLPOP_TIMEOUT_SECONDS * 1000, `BLPOP returned after ${elapsed} ms: not woken by the LPUSH`);
  },
  del: (client, keys) => client.del(keys),
  close: (client) => client.destroy(),
};

const ioredis = {
  create(role, onError) {
    // Defaults (protocol 3 with fallback to 2, offline queue, retries); only the address is given.
    const client = new Redis(port, host);
    client.on('error', onError);
    return client;
  },
  connect: (client) =>
    new Promise((resolve, reject) => {
      if (client.status === 'ready') {
        resolve();
        return;
      }

      client.once('ready', resolve);
      client.once('error', reject);
    }),
  async multiExec(client, a, b) {
    const replies = await client.multi().set(a, '1').incr(b).get(a).exec();
    const expected = [[null, 'OK'], [null, 1], [null, '1']];
    check(show(replies) === show(expected), `EXEC answered ${show(replies)}, expected ${show(expected)}`);
  },
  async pubSub(client, subscriber, channel) {
    const received = new Promise((resolve) => {
      subscriber.on('message', (from, message) => resolve({ message, from }));
    });
    const count = await subscriber.subscribe(channel);
    check(count === 1, `SUBSCRIBE answered ${show(count)}`);
    const receivers = await client.publish(channel, 'hello');
    check(receivers === 1, `PUBLISH reached ${show(receivers)} subscribers, expected 1`);
    const got = await bounded(received, 'message delivery');
    check(got.message === 'hello' && got.from === channel, `received ${show(got)}`);
  },
  async blpop(client, blocker, key) {
    const started = Date.now();
    const popped = later(blocker.blpop(key, BLPOP_TIMEOUT_SECONDS));
    await sleep(PUSH_DELAY_MS);
    const length = await client.lpush(key, 'job');
    check(length === 1, `LPUSH answered ${show(length)}`);
    const reply = await popped();
    const elapsed = Date.now() - started;
    check(show(reply) === show([key, 'job']), `BLPOP answered ${show(reply)}`);
    check(elapsed < BLPOP_TIMEOUT_SECONDS * 1000, `BLPOP returned after ${elapsed} ms: not woken by the LPUSH`);
  },
  del: (client, keys) => client.del(...keys),
  close: (client) => client.disconnect(),
};

await battery('node-redis', nodeRedis);
await battery('ioredis', ioredis);
console.log(failures === 0 ? 'all steps ok' : `${failures} step(s) failed`);
// Clients of an endpoint that refused them may still be reconnecting: exit rather than wait for them.
process.exit(failures === 0 ? 0 : 1);
