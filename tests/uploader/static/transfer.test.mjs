// The uploader's browser-free logic (uploader/static/uploader/transfer.js), run by `node --test`.
import { afterEach, describe, mock, test } from "node:test";
import assert from "node:assert/strict";

import * as transfer from "../../../uploader/static/uploader/transfer.js";

const { Limiter, Stopped, jittered, partLength, partRange, remainingParts, retrying, stateAfter, transient } =
  transfer;

const MIB = 1024 * 1024;

// Lets every pending promise callback run (setImmediate is not among the mocked timers).
const settle = () => new Promise((resolve) => setImmediate(resolve));

class HttpError extends Error {
  constructor(status) {
    super(`HTTP ${status}`);
    this.status = status;
  }
}

describe("part sizing", () => {
  test("parts are the planned size but the last, which holds the rest", () => {
    const size = 2 * 8 * MIB + 3;
    assert.deepEqual(
      [1, 2, 3].map((n) => partLength(size, 8 * MIB, n)),
      [8 * MIB, 8 * MIB, 3],
    );
  });

  test("the ranges cover the file end to end without overlap", () => {
    const size = 5 * MIB + 1;
    const ranges = [1, 2, 3, 4, 5, 6].map((n) => partRange(size, MIB, n));
    assert.deepEqual(ranges[0], [0, MIB]);
    for (let i = 1; i < ranges.length; i += 1) assert.equal(ranges[i][0], ranges[i - 1][1]);
    assert.deepEqual(ranges.at(-1), [5 * MIB, size]);
  });

  test("a single-part upload is the whole file", () => {
    assert.deepEqual(partRange(10, 10, 1), [0, 10]);
  });
});

describe("resume", () => {
  test("parts storage holds whole are skipped and counted as sent", () => {
    const size = 3 * MIB - 5;
    const listed = [
      { number: 1, size: MIB },
      { number: 3, size: MIB - 5 },
    ];
    assert.deepEqual(remainingParts(listed, size, MIB, 3), { queue: [2], confirmed: 2 * MIB - 5 });
  });

  test("a part of the wrong length is sent again and not counted", () => {
    const listed = [
      { number: 1, size: MIB - 1 },
      { number: 2, size: MIB },
    ];
    assert.deepEqual(remainingParts(listed, 3 * MIB, MIB, 3), { queue: [1, 3], confirmed: MIB });
  });

  test("a fresh upload sends every part in order", () => {
    assert.deepEqual(remainingParts([], 4 * MIB, MIB, 4), { queue: [1, 2, 3, 4], confirmed: 0 });
  });
});

describe("concurrency limiter", () => {
  // Tasks that finish only when the test says so, recording when they start.
  function gated(count) {
    const started = [];
    const gates = [];
    const tasks = Array.from({ length: count }, (_, i) => () => {
      started.push(i);
      return new Promise((resolve, reject) => gates.push({ resolve, reject, i }));
    });
    return { started, gates, tasks };
  }

  test("runs at most `limit` tasks at once, in the order they were asked for", async () => {
    const limiter = new Limiter(2);
    const { started, gates, tasks } = gated(5);
    const results = tasks.map((task) => limiter.run(task));
    await settle();
    assert.deepEqual(started, [0, 1]);
    gates[1].resolve("b");
    await settle();
    assert.deepEqual(started, [0, 1, 2]);
    gates[0].resolve("a");
    gates[2].resolve("c");
    await settle();
    assert.deepEqual(started, [0, 1, 2, 3, 4]);
    assert.equal(limiter.running, 2);
    gates[3].resolve("d");
    gates[4].resolve("e");
    assert.deepEqual(await Promise.all(results), ["a", "b", "c", "d", "e"]);
    assert.equal(limiter.running, 0);
  });

  test("a failed task rejects its own promise and frees its place", async () => {
    const limiter = new Limiter(1);
    const { started, gates, tasks } = gated(2);
    const [first, second] = tasks.map((task) => limiter.run(task));
    await settle();
    gates[0].reject(new Error("unreadable"));
    await assert.rejects(first, /unreadable/);
    await settle();
    assert.deepEqual(started, [0, 1]);
    gates[1].resolve("ok");
    assert.equal(await second, "ok");
  });
});

describe("where an upload stops", () => {
  test("a refusal the server calls final rejects the file", () => {
    const refused = Object.assign(new HttpError(415), { body: { error: "type_not_allowed", retryable: false } });
    assert.equal(stateAfter(refused), "rejected");
  });

  test("anything else leaves it failed, for Retry", () => {
    const missing = Object.assign(new HttpError(409), { body: { error: "parts_missing", retryable: true } });
    assert.equal(stateAfter(missing), "failed");
    assert.equal(stateAfter(Object.assign(new HttpError(502), { body: {} })), "failed"); // a proxy's page
    assert.equal(stateAfter(new HttpError(0)), "failed"); // no answer, or storage refused a part
    assert.equal(stateAfter(new Error("unreadable")), "failed");
  });
});

describe("retry and back-off", () => {
  afterEach(() => mock.timers.reset());

  function options(overrides = {}) {
    return {
      delays: [0, 0, 0],
      signal: new AbortController().signal,
      retryable: transient,
      isOnline: () => true,
      reconnected: async () => {},
      ...overrides,
    };
  }

  // An attempt that throws the given errors in turn, then answers "done".
  function failing(...errors) {
    const attempt = mock.fn(async () => {
      const error = errors.shift();
      if (error) throw error;
      return "done";
    });
    return attempt;
  }

  test("answers that may go away by themselves are transient; refusals are not", () => {
    for (const status of [0, 429, 500, 503]) assert.equal(transient(new HttpError(status)), true, status);
    for (const status of [400, 401, 403, 404, 409, 422]) assert.equal(transient(new HttpError(status)), false);
    assert.equal(transient(undefined), false);
  });

  test("a transient failure is tried again until it answers", async () => {
    const attempt = failing(new HttpError(503), new HttpError(0));
    assert.equal(await retrying(attempt, options()), "done");
    assert.equal(attempt.mock.callCount(), 3);
  });

  test("a refusal is not tried again", async () => {
    const attempt = failing(new HttpError(409));
    await assert.rejects(retrying(attempt, options()), /HTTP 409/);
    assert.equal(attempt.mock.callCount(), 1);
  });

  test("it gives up with the last error when the delays run out", async () => {
    const attempt = failing(...[500, 502, 503, 504].map((s) => new HttpError(s)));
    await assert.rejects(retrying(attempt, options()), /HTTP 503/);
    assert.equal(attempt.mock.callCount(), 3);
  });

  test("while offline it waits for the connection without using up attempts", async () => {
    const online = [false, false, false];
    const reconnected = mock.fn(async () => {});
    const attempt = failing(new HttpError(0), new HttpError(0), new HttpError(0));
    const answer = retrying(attempt, options({ delays: [0], isOnline: () => online.shift() ?? true, reconnected }));
    assert.equal(await answer, "done");
    assert.equal(reconnected.mock.callCount(), 3);
  });

  test("onRetry sees each retried error and may give up instead", async () => {
    const seen = [];
    const onRetry = (error) => {
      seen.push(error.status);
      if (error.status === 404) throw new Error("discarded");
    };
    const attempt = failing(new HttpError(500), new HttpError(404));
    await assert.rejects(retrying(attempt, options({ retryable: () => true, onRetry })), /discarded/);
    assert.deepEqual(seen, [500, 404]);
  });

  test("each retry waits its back-off delay, with jitter of at most 20%", async () => {
    mock.timers.enable({ apis: ["setTimeout"] });
    const attempt = failing(new HttpError(503));
    const answer = retrying(attempt, options({ delays: [0, 1000] }));
    await settle();
    assert.equal(attempt.mock.callCount(), 1);
    mock.timers.tick(799);
    await settle();
    assert.equal(attempt.mock.callCount(), 1);
    mock.timers.tick(401);
    await settle();
    assert.equal(attempt.mock.callCount(), 2);
    assert.equal(await answer, "done");
  });

  test("jitter spreads a delay over 80% to 120%", () => {
    assert.equal(Math.round(jittered(1000, () => 0)), 800);
    assert.equal(Math.round(jittered(1000, () => 0.5)), 1000);
    assert.equal(Math.round(jittered(1000, () => 1)), 1200);
  });

  test("a pause during the back-off stops the retries", async () => {
    mock.timers.enable({ apis: ["setTimeout"] });
    const controller = new AbortController();
    const attempt = failing(new HttpError(503));
    const answer = retrying(attempt, options({ delays: [0, 60000], signal: controller.signal }));
    await settle();
    controller.abort();
    await assert.rejects(answer, Stopped);
    mock.timers.tick(60000);
    await settle();
    assert.equal(attempt.mock.callCount(), 1);
  });

  test("an answer that arrives after a pause is dropped", async () => {
    const controller = new AbortController();
    const attempt = async () => {
      controller.abort();
      return "late";
    };
    await assert.rejects(retrying(attempt, options({ signal: controller.signal })), Stopped);
  });
});
