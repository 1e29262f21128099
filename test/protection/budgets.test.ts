import t from 'tap';
import { Cached, CachedMap } from '../../src/lib/cached.js';
import { Admission, Overloaded } from '../../src/protection/admission.js';
import { addressKey, FailureBudgets, TokenBuckets } from '../../src/protection/failure-budget.js';
import { Tarpit } from '../../src/protection/tarpit.js';

// The building blocks of abuse resistance, without HTTP and with a clock the test moves.

function clock(start = 1_000_000) {
  const state = { now: start };
  return { now: () => state.now, advance: (ms: number) => (state.now += ms) };
}

t.test('a token bucket allows `limit` failures in a burst, then one per window/limit', async (t) => {
  const time = clock();
  const buckets = new TokenBuckets(5, 60_000, 100, time.now);
  for (let i = 0; i < 5; i++) {
    t.equal(buckets.waitMs('a'), 0, `failure ${i + 1} is within the budget`);
    buckets.spend('a');
  }
  t.equal(buckets.waitMs('a'), 12_000, 'then a wait of window/limit');
  t.equal(buckets.waitMs('b'), 0, 'other keys are not affected');
  time.advance(11_999);
  t.ok(buckets.waitMs('a') > 0, 'still waiting just before');
  time.advance(1);
  t.equal(buckets.waitMs('a'), 0, 'one more try once a token came back');
  buckets.spend('a');
  t.equal(buckets.waitMs('a'), 12_000, 'and then waiting again');
  time.advance(60_000);
  t.equal(buckets.waitMs('a'), 0);
  t.equal(buckets.size, 0, 'a full bucket is forgotten');
});

t.test('failures that end together are each paid back: parallel connections do not multiply the budget', async (t) => {
  const time = clock();
  const buckets = new TokenBuckets(5, 60_000, 100, time.now);
  for (let i = 0; i < 4; i++) buckets.spend('a');
  t.equal(buckets.waitMs('a'), 0, 'one token left');
  // Ten attempts all found that token; their failures are counted as they end.
  for (let i = 0; i < 10; i++) buckets.spend('a');
  t.equal(buckets.waitMs('a'), 6 * 12_000, 'in debt by five (the bound): six windows/limit until the next try');
  time.advance(6 * 12_000);
  t.equal(buckets.waitMs('a'), 0, 'then one more try');
  buckets.spend('a');
  t.equal(buckets.waitMs('a'), 12_000, 'and one per window/limit after that');
});

t.test('a bucket with a smaller capacity allows that many at once, and still `limit` per window when spread out', async (t) => {
  const time = clock();
  const buckets = new TokenBuckets(60, 60_000, 100, time.now, 5);
  for (let i = 0; i < 5; i++) {
    t.equal(buckets.waitMs('a'), 0, `failure ${i + 1} of the burst`);
    buckets.spend('a');
  }
  t.equal(buckets.waitMs('a'), 1_000, 'then a wait of window/limit, not window/capacity');
  let allowed = 0;
  for (let second = 0; second < 60; second++) {
    time.advance(1_000);
    if (buckets.waitMs('a') === 0) {
      buckets.spend('a');
      allowed += 1;
    }
  }
  t.equal(allowed, 60, 'one a second for a minute: the whole limit');
  time.advance(3_600_000);
  for (let i = 0; i < 5; i++) buckets.spend('a');
  t.ok(buckets.waitMs('a') > 0, 'however long it rested, the next burst is the capacity');
  const above = new TokenBuckets(3, 60_000, 100, time.now, 10);
  for (let i = 0; i < 3; i++) above.spend('b');
  t.equal(above.waitMs('b'), 20_000, 'a capacity above the limit is the limit');
});

t.test("an address's failures come at most burstPerAddress at once, then one per window/perAddress", async (t) => {
  const time = clock();
  const budgets = new FailureBudgets({ perClientAndAddress: 10, perAddress: 30, burstPerAddress: 4, windowMs: 60_000 }, time.now);
  for (let i = 0; i < 4; i++) {
    t.equal(budgets.waitMs(`made-up-${i}`, '198.51.100.7'), 0, `made-up client_id ${i + 1}: tried`);
    budgets.failed(`made-up-${i}`, '198.51.100.7');
  }
  t.equal(budgets.waitMs('made-up-4', '198.51.100.7'), 2_000, 'the fifth waits window/perAddress');
  time.advance(2_000);
  t.equal(budgets.waitMs('made-up-4', '198.51.100.7'), 0, 'and is tried then');
});

t.test('the buckets hold a bounded number of keys', async (t) => {
  const buckets = new TokenBuckets(1, 60_000, 1000);
  for (let i = 0; i < 5000; i++) buckets.spend(`key-${i}`);
  t.equal(buckets.size, 1000, 'never more than maxKeys');
  t.ok(buckets.waitMs('key-4999') > 0, 'the newest are kept');
  t.equal(buckets.waitMs('key-0'), 0, 'the oldest went first');
});

t.test('failure budgets: per (client_id, address) and per address, never per client_id alone', async (t) => {
  const time = clock();
  const budgets = new FailureBudgets({ perClientAndAddress: 3, perAddress: 10, burstPerAddress: 10, windowMs: 60_000 }, time.now);
  for (let i = 0; i < 3; i++) budgets.failed('victim', '192.0.2.66');
  t.ok(budgets.waitMs('victim', '192.0.2.66') > 0, 'the attacking pair is throttled');
  t.equal(budgets.waitMs('victim', '192.0.2.10'), 0, "the victim's own address is not");
  t.equal(budgets.waitMs('other', '192.0.2.66'), 0, 'the attacker may still name other clients, within its address budget');

  for (let i = 0; i < 10; i++) budgets.failed(`random-${i}`, '198.51.100.7');
  t.ok(budgets.waitMs('anything', '198.51.100.7') > 0, 'an address over its budget is throttled whatever client_id it names');
  t.equal(budgets.waitMs('anything', '198.51.100.8'), 0, 'its neighbour is not');

  budgets.failed('client', '203.0.113.1');
  budgets.failed('client', '203.0.113.1');
  budgets.succeeded('client', '203.0.113.1');
  budgets.failed('client', '203.0.113.1');
  budgets.failed('client', '203.0.113.1');
  t.equal(budgets.waitMs('client', '203.0.113.1'), 0, 'a success makes the pair whole again');
});

t.test('addresses are counted by IPv4 address, IPv6 /64, and IPv4-mapped as IPv4', async (t) => {
  t.equal(addressKey('192.0.2.1'), '192.0.2.1');
  t.equal(addressKey('::ffff:192.0.2.1'), '192.0.2.1');
  t.equal(addressKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
  t.equal(addressKey('2001:db8:1:2:ffff:ffff:ffff:ffff'), '2001:db8:1:2::/64', 'the whole /64 is one caller');
  t.equal(addressKey('2001:db8::1'), '2001:db8:0:0::/64');
  t.not(addressKey('2001:db8:1:3::1'), addressKey('2001:db8:1:2::1'), 'another /64 is another caller');
});

t.test('admission: at most `concurrency` at once, a short queue, Overloaded beyond it', async (t) => {
  const admission = new Admission(2, 1);
  const releases: Array<() => void> = [];
  const started: number[] = [];
  const work = (id: number) => () =>
    new Promise<number>((resolve) => {
      started.push(id);
      releases.push(() => resolve(id));
    });
  const first = admission.run(work(1));
  const second = admission.run(work(2));
  const third = admission.run(work(3));
  await t.rejects(admission.run(work(4)), Overloaded, 'the fourth finds the queue full and is refused at once');
  await new Promise((resolve) => setImmediate(resolve));
  t.same(started, [1, 2], 'two run, one waits');
  t.same(admission.load, { running: 2, waiting: 1 });
  releases.shift()?.();
  t.equal(await first, 1);
  await new Promise((resolve) => setImmediate(resolve));
  t.same(started, [1, 2, 3], 'the waiting one takes the freed slot');
  releases.shift()?.();
  releases.shift()?.();
  t.same(await Promise.all([second, third]), [2, 3]);
  t.same(admission.load, { running: 0, waiting: 0 }, 'everything given back');
  await t.rejects(
    admission.run(() => Promise.reject(new Error('boom'))),
    /boom/,
    'a failing piece of work',
  );
  t.same(admission.load, { running: 0, waiting: 0 }, 'gives its slot back too');
});

t.test('the tarpit holds answers, never longer than asked, and a bounded number of them', async (t) => {
  const tarpit = new Tarpit(200, 2);
  const started = Date.now();
  t.equal(await tarpit.hold(50), true);
  t.ok(Date.now() - started < 150, 'no longer than the caller must wait anyway');
  const held = [tarpit.hold(), tarpit.hold()];
  t.equal(await tarpit.hold(), false, 'a third is not held: answer now, and close');
  t.same(await Promise.all(held), [true, true]);
  t.equal(await new Tarpit(0).hold(), true, 'a delay of 0 holds nothing');
});

t.test('a cached value: a failed load is never kept', async (t) => {
  let calls = 0;
  let failing = true;
  const cached = new Cached(async () => {
    calls += 1;
    if (failing) throw new Error('database down');
    return calls;
  });
  await t.rejects(cached.get(), /database down/);
  failing = false;
  t.equal(await cached.get(), 2, 'the next call loads again');
  t.equal(await cached.get(), 2, 'and keeps what loaded');
  cached.invalidate();
  t.equal(await cached.get(), 3, 'until invalidated');

  let keyedCalls = 0;
  const map = new CachedMap(
    async (key: string) => {
      keyedCalls += 1;
      if (key === 'bad') throw new Error('no');
      return key.length;
    },
    { maxAgeMs: 60_000, maxEntries: 10 },
  );
  await t.rejects(map.get('bad'), /no/);
  await t.rejects(map.get('bad'), /no/);
  t.equal(keyedCalls, 2, 'a failed key is loaded again');
  t.equal(await map.get('good'), 4);
  t.equal(await map.get('good'), 4);
  t.equal(keyedCalls, 3, 'a loaded key is kept');
  t.equal(map.size, 1, 'only the good key is kept');
});
