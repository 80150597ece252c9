// Scenarios run by tests/js/test_js_sdk.py: the official @upstash/vector SDK against a
// live vecsite. Usage: node scenarios.mjs <scenario> (VECSITE_URL, VECSITE_TOKEN set).
// Each scenario prints one JSON value: what the SDK returned, or threw as {"thrown": msg},
// so that the Python side asserts the exact values the hosted service answers.
import { FusionAlgorithm, Index, WeightingStrategy } from "@upstash/vector";

const url = process.env.VECSITE_URL;
const token = process.env.VECSITE_TOKEN;
const index = new Index({ url, token, retry: false, enableTelemetry: false });
// The SDK's own HTTP client (what its commands send through), for what it has no method for.
const client = index.client;

async function attempt(call) {
  try {
    return await call();
  } catch (error) {
    return { thrown: String(error.message ?? error) };
  }
}

// The JS SDK's own test data (its test-utils populateHybridIndex / populateSparseIndex).
async function populate(withDense, namespace) {
  const records = [
    { id: "id0", vector: [0.1, 0.2], sparseVector: { indices: [0, 1], values: [0.1, 0.2] } },
    { id: "id1", vector: [0.2, 0.3], sparseVector: { indices: [1, 2], values: [0.2, 0.3] }, metadata: { key: "value" } },
    { id: "id2", vector: [0.3, 0.4], sparseVector: { indices: [2, 3], values: [0.3, 0.4] }, metadata: { key: "value" }, data: "data" },
  ];
  if (!withDense) for (const record of records) delete record.vector;
  await index.upsert(records, { namespace });
}

const scenarios = {
  // A resumable query on a namespace that does not exist: the handle must still work.
  async missingNamespaceResumable() {
    const { result, fetchNext, stop } = await index.resumableQuery(
      { vector: [0.1, 0.2], topK: 3, maxIdle: 60 },
      { namespace: "never-created" },
    );
    const next = await attempt(() => fetchNext(5));
    const stopped = await attempt(() => stop());
    const afterStop = await attempt(() => fetchNext(1));
    const namespaces = await index.listNamespaces();
    return { result, next, stopped, afterStop, namespaces };
  },

  // vector-js src/commands/client/resumable-query/index.test.ts, hybrid index.
  async hybridResumableDbsf() {
    await populate(true, "resumable-hybrid");
    const { result, fetchNext, stop } = await index.resumableQuery(
      {
        vector: [0.1, 0.1],
        sparseVector: { indices: [0], values: [0.1] },
        topK: 2,
        includeVectors: true,
        includeMetadata: true,
        includeData: true,
        weightingStrategy: WeightingStrategy.IDF,
        fusionAlgorithm: FusionAlgorithm.DBSF,
        maxIdle: 3600,
      },
      { namespace: "resumable-hybrid" },
    );
    const next = await fetchNext(1);
    await stop();
    return { result, next };
  },

  // The same file, sparse index.
  async sparseResumableIdf() {
    await populate(false, "resumable-sparse");
    const { result, fetchNext, stop } = await index.resumableQuery(
      {
        sparseVector: { indices: [0, 1], values: [0.1, 0.2] },
        topK: 1,
        includeVectors: true,
        includeMetadata: true,
        includeData: true,
        weightingStrategy: WeightingStrategy.IDF,
        fusionAlgorithm: FusionAlgorithm.DBSF,
        maxIdle: 3600,
      },
      { namespace: "resumable-sparse" },
    );
    const next = await fetchNext(1);
    await stop();
    return { result, next };
  },

  // vector-js src/commands/client/query/query-many/index.test.ts, "should query hybrid index".
  async hybridQueryMany() {
    await populate(true, "query-hybrid");
    return await index.queryMany(
      [
        { topK: 1, vector: [0.1, 0.1], sparseVector: { indices: [3, 4], values: [0.1, 0.2] }, fusionAlgorithm: FusionAlgorithm.RRF },
        { topK: 1, vector: [0.5, 0.1], sparseVector: { indices: [0, 1], values: [0.5, 0.1] }, includeVectors: true },
        {
          topK: 1,
          sparseVector: { indices: [2, 3], values: [0.5, 0.5] },
          weightingStrategy: WeightingStrategy.IDF,
          fusionAlgorithm: FusionAlgorithm.DBSF,
          includeMetadata: true,
        },
      ],
      { namespace: "query-hybrid" },
    );
  },

  // A batch of one: the server answers a flat list, the SDK nests it.
  async queryManyOfOne() {
    await index.upsert([{ id: "a", vector: [0.6, 0.8] }, { id: "b", vector: [0.8, 0.6] }]);
    const many = await index.queryMany([{ vector: [0.6, 0.8], topK: 2 }]);
    const raw = await client.request({ path: ["query"], body: [{ vector: [0.6, 0.8], topK: 2 }] });
    return { many, raw: raw.result };
  },

  // vector-js src/commands/client/range/index.test.ts: a fresh namespace pages "5", then on.
  async rangeCursors() {
    const records = Array.from({ length: 20 }, (_, i) => ({ id: `id-${i}`, vector: [i + 1, 1] }));
    await index.upsert(records);
    const first = await index.range({ cursor: 0, limit: 5, includeVectors: true });
    const second = await index.range({ cursor: first.nextCursor, limit: 5 });
    await index.delete(["id-10", "id-11"]);
    const third = await index.range({ cursor: second.nextCursor, limit: 5 });
    const rest = await index.range({ cursor: third.nextCursor, limit: 100 });
    const unicode = await attempt(() => index.range({ cursor: "١٢", limit: 5 }));
    await index.reset();
    await index.upsert(records.slice(0, 6));
    const afterReset = await index.range({ cursor: "0", limit: 5 });
    return {
      cursors: [first.nextCursor, second.nextCursor, third.nextCursor, rest.nextCursor, afterReset.nextCursor],
      ids: [first, second, third, rest].map((page) => page.vectors.map((v) => v.id)),
      unicode,
    };
  },

  // Repeated sparse indices merge into one entry on upsert, query, resumable query and update.
  async repeatedSparseIndices() {
    await index.upsert([
      { id: "t", sparseVector: { indices: [7, 3, 7, 3, 9], values: [0.5, 1, 0.25, 1, 2] } },
      { id: "u", sparseVector: { indices: [3], values: [1] } },
    ]);
    const [fetched] = await index.fetch(["t"], { includeVectors: true });
    const hits = await index.query({ sparseVector: { indices: [7, 7, 3], values: [1, 1, 0.5] }, topK: 2 });
    const { result, stop } = await index.resumableQuery({ sparseVector: { indices: [9, 9], values: [1, 1] }, topK: 1, maxIdle: 60 });
    await stop();
    const updated = await index.update({ id: "u", sparseVector: { indices: [5, 5], values: [1, 2] } });
    const [after] = await index.fetch(["u"], { includeVectors: true });
    return { fetched, hits, resumable: result, updated, after };
  },

  async info() {
    return await index.info();
  },

  // rename-namespace and random have no method in this SDK: its own transport sends them.
  async renameAndRandom() {
    await index.upsert([{ id: "r1", vector: [1, 0] }], { namespace: "old" });
    const emptyRandom = await client.request({ path: ["random", "nowhere"], body: [] });
    const renamed = await client.request({ path: ["rename-namespace"], body: { namespace: "old", newNamespace: "new" } });
    const random = await client.request({ path: ["random", "new"], body: [] });
    const namespaces = await index.listNamespaces();
    const refused = await attempt(() => client.request({ path: ["rename-namespace"], body: { namespace: "", newNamespace: "x" } }));
    return { emptyRandom: emptyRandom.result, renamed: renamed.result, random: random.result, namespaces, refused };
  },
};

const name = process.argv[2];
if (!(name in scenarios)) {
  console.error(`unknown scenario ${name}`);
  process.exit(2);
}
console.log(JSON.stringify(await scenarios[name]()));
