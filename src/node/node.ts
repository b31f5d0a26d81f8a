import { KvStateMachine, applyRetention, defaultAutoCompaction } from "../kv/index.ts";
import { WatchHub } from "../kv/watch_hub.ts";
import { bootstrapState } from "../raft/index.ts";
import { assert } from "../shared/assert.ts";
import { QklzlError } from "../shared/errors.ts";
import { limits } from "../shared/limits.ts";
import { openStorage } from "../storage/index.ts";
import { createTransport } from "../transport/index.ts";
import type { QklzlTransport } from "../transport/index.ts";
import type { HttpServer } from "./api.ts";
import { openBackup } from "./backup/source.ts";
import { forceNewCluster } from "./force_new_cluster.ts";
import { PeriodicCompactor } from "./auto_compactor.ts";
import { ClusterHealth } from "./cluster_health.ts";
import { startHttpServer } from "./http/server.ts";
import { startEtcdEndpoint, type GrpcServer } from "./grpc/index.ts";
import { DiskFullGuard } from "./disk_full.ts";
import { Guardrails } from "./guardrails.ts";
import { nodeLogger } from "./logger.ts";
import { MembershipTasks } from "./membership.ts";
import { createNodeApi } from "./node_api.ts";
import { createAuthApi } from "./auth/auth_api.ts";
import { confirmRemoval } from "./removal_confirm.ts";
import { requestBounds } from "./request_bounds.ts";
import { NodeRuntime } from "./runtime.ts";
import { describeConf } from "./status.ts";
import { no_tls, tlsFilesProblem } from "./tls/files.ts";
import { loadNodeTls } from "./tls/load.ts";
import { TlsManager } from "./tls/manager.ts";
import type { NodeOptions, RunningNode } from "./types.ts";
import { WatchService } from "./watch/watch_service.ts";

/**
 * startNode opens the data dir and runs one qklzl node until stop() (or its removal from the cluster).
 * - empty dir + bootstrap: a new one-node cluster (new cluster id) that leads at once;
 * - empty dir + join ADDR: asks ADDR to add this node (learner, promoted once caught up), retrying while no leader;
 * - existing state: restarts from disk; the flags change nothing in the log, except that a changed address is
 *   recorded through the leader and bootstrap makes this node the designated leader (it takes leadership once
 *   caught up).
 */
export async function startNode(options: NodeOptions): Promise<RunningNode> {
  validateOptions(options);
  const logger = nodeLogger(options.id);
  const tlsFiles = options.tls ?? no_tls;
  const tls = loadNodeTls(tlsFiles); // before the data dir is opened: a bad certificate changes nothing
  const opened = await openStorage({ dir: options.dataDir, nodeId: options.id, segmentBytes: options.segmentBytes });
  // A full disk stops writes, not the node (disk_full.ts); the hooks reach the guardrails and the stop path.
  const disk: { full(full: boolean): void; fatal(error: Error): void } = { full: () => {}, fatal: () => {} };
  const diskGuard = new DiskFullGuard({ logger, onFull: () => disk.full(true), onSpace: () => disk.full(false), onFatal: (error) => disk.fatal(error) });
  const storage = diskGuard.wrap(options.wrapStorage?.(opened) ?? opened);
  let transport: QklzlTransport | null = null;
  let http: HttpServer | null = null;
  let grpc: GrpcServer | null = null;
  try {
    const autoCompaction = options.autoCompaction ?? defaultAutoCompaction;
    const kv = new KvStateMachine({ retentionRevisions: applyRetention(autoCompaction) });
    const snapshot = await storage.snapshots.loadLatest();
    if (snapshot !== null) {
      await kv.restore(snapshot.data);
      assert(kv.appliedIndex === snapshot.meta.index, `snapshot ${snapshot.meta.index} holds a map at ${kv.appliedIndex}`);
    }
    assert(kv.appliedIndex === storage.log.snapshotMeta().index, "the newest snapshot is the one the log starts after");
    if (options.forceNewCluster === true) {
      await forceNewCluster(storage, kv, { id: options.id, raftAddr: options.advertiseRaftAddr ?? options.raftAddr, httpAddr: options.httpAddr }, logger);
    }
    const hasLog = storage.log.lastIndex() > 0;
    const hasState = hasLog || storage.meta.clusterId !== null;
    if (!hasState && !options.bootstrap && options.join === null) {
      throw new QklzlError(
        "bad_request",
        `data directory ${options.dataDir} holds no cluster state: start with -bootstrap to create a cluster or -join ADDR to join one`,
      );
    }
    const rt = new NodeRuntime({ options, storage, kv, logger });
    rt.memberHttp = tls.memberHttp;
    const watches = new WatchService(new WatchHub(kv), {
      streamsMax: limits.watch_streams_max,
      barrier: async (key) => void (await rt.readKv(key, "linearizable")),
      logger,
    });
    const auth = createAuthApi({ state: () => kv.authState, propose: (data) => rt.propose(data), barrier: async () => void (await rt.readKv("\0", "linearizable")) });
    const backup = () => openBackup({ take: () => rt.snapshot(), snapshots: storage.snapshots, clusterId: () => storage.meta.clusterId, nodeId: options.id });
    const guardrails = new Guardrails(rt, kv, options, logger);
    disk.full = (full) => guardrails.diskFull(full);
    const api = { ...createNodeApi(rt, requestBounds(options), (request) => guardrails.admit(request)), watches, backup, auth, alarms: guardrails.alarms };
    transport = await createTransport({
      nodeId: options.id,
      listen: options.raftAddr,
      clusterId: () => storage.meta.clusterId,
      isKnownPeer: (id) => rt.isKnownPeer(id),
      incarnation: storage.meta.incarnation,
      incarnationProblem: (id, incarnation) => rt.peerIncarnationProblem(id, incarnation),
      handlers: rt.transportHandlers,
      tls: tls.peer,
    });
    http = startHttpServer(api, {
      listen: options.httpAddr,
      maxKeyBytes: options.maxKeyBytes,
      maxValueBytes: options.maxValueBytes,
      maxBodyBytes: options.maxBodyBytes,
      maxTxnOps: options.maxTxnOps,
      requestTimeoutMs: options.requestTimeoutMs,
      tls: tls.http,
      memberHttp: () => rt.memberHttp,
    });
    const tlsHttp = http;
    const tlsTransport = transport;
    const tlsManager = new TlsManager(tlsFiles, tls, logger, async (next) => {
      if (next.peer !== null) tlsTransport.reloadTls(next.peer);
      if (next.http !== null) await tlsHttp.reloadTls(next.http);
      if (next.http !== null && grpc?.secure === true) grpc.reloadTls(next.http);
      rt.memberHttp = next.memberHttp;
    });
    grpc = await startEtcdEndpoint(api, options, tls.http, () => rt.memberHttp);
    const addrs = { raftAddr: options.advertiseRaftAddr ?? transport.addr, httpAddr: http.addr };
    const bootstrapping = !hasState && options.bootstrap;
    if (bootstrapping) {
      const state = bootstrapState({ id: options.id, role: "voter", ...addrs, incarnation: storage.meta.incarnation });
      await storage.log.save(state.entries, state.hardState);
      await storage.setClusterId(crypto.randomUUID());
      logger.success(`bootstrapped a new cluster ${storage.meta.clusterId} with this node as its only voter`);
    }
    const tasks = new MembershipTasks(rt, { designatedLeader: hasState && options.bootstrap, joinAddr: options.join });
    const health = new ClusterHealth(rt, { joining: !hasLog && options.join !== null });
    const compactor = PeriodicCompactor.forNode(rt, kv, autoCompaction);

    let stopping: Promise<void> | null = null;
    let resolveDone!: () => void;
    let rejectDone!: (error: unknown) => void;
    const done = new Promise<void>((resolve, reject) => {
      resolveDone = resolve;
      rejectDone = reject;
    });
    const openTransport = transport;
    const openHttp = http;
    const openGrpc = grpc;
    const stop = (reason: "stop" | "removed" | "fatal", cause?: unknown): Promise<void> => {
      stopping ??= (async () => {
        if (reason === "stop") health.warnIfStopCostsQuorum();
        rt.stopping = true;
        diskGuard.stop();
        tlsManager.stop();
        if (reason === "stop") await rt.handOver(Math.min(2 * options.electionMs, 3_000), "before stopping");
        const why = reason === "removed" ? "was removed from the cluster" : "is shutting down";
        await rt.shutdown(new QklzlError("shutting_down", `node ${options.id} ${why}; the outcome of pending requests is unknown`));
        watches.closeAll("shutting_down", `node ${options.id} ${why}; resume on another member from the last revision + 1`);
        await openGrpc?.stop().catch((error) => logger.warn(`closing grpc: ${String(error)}`));
        await openHttp.stop().catch((error) => logger.warn(`closing http: ${String(error)}`));
        await openTransport.close().catch((error) => logger.warn(`closing transport: ${String(error)}`));
        await storage.close().catch((error) => logger.warn(`closing storage: ${String(error)}`));
        if (reason === "removed") logger.success(`node ${options.id} was removed from the cluster and stopped`);
        else if (reason === "stop") logger.info(`node ${options.id} stopped`);
        if (reason === "fatal") rejectDone(cause);
        else resolveDone();
      })();
      return stopping;
    };
    const fatal = (error: unknown): void => {
      logger.error(`fatal: ${error instanceof Error ? error.message : String(error)}; stopping`);
      void stop("fatal", error);
    };
    disk.fatal = fatal;
    rt.start(transport, { ...addrs, campaign: bootstrapping }, {
      onTick: () => {
        tasks.tick();
        health.tick();
        compactor?.tick();
        guardrails.tick();
      },
      onUnknownPeer: (id) => tasks.discoverPeers(id),
      onRemoved: () => void stop("removed"),
      onRemovalToConfirm: (index) => void confirmRemoval(rt, options.join, index),
      onFatal: fatal,
      extraStatus: () => ({ ...health.status(), ...guardrails.status() }),
      extraMetricLines: () => [...health.metricLines(), ...watches.metricLines(), ...tlsManager.metricLines(), ...guardrails.metricLines()],
    });
    const describe = hasState
      ? `restarted from disk (snapshot ${storage.log.snapshotMeta().index}, log [${storage.log.firstIndex()}, ${storage.log.lastIndex()}], term ${storage.log.hardState().term}, members ${describeConf({ members: rt.raftStatus().members })})`
      : bootstrapping
        ? "leading the new cluster"
        : `joining through ${options.join}`;
    const listening = addrs.raftAddr === transport.addr ? "" : ` (listening on ${transport.addr})`;
    const secured = [tls.http === null ? "" : `https${tls.http.requestCert ? " with client certificates" : ""}`, tls.peer === null ? "" : "peer mTLS"].filter((s) => s !== "");
    logger.info(`node ${options.id} up: raft ${addrs.raftAddr}${listening}, http ${addrs.httpAddr}${grpc === null ? "" : `, etcd grpc ${grpc.addr}`}, data ${options.dataDir}${secured.length === 0 ? "" : ` (${secured.join(", ")})`}; ${describe}`);
    tlsManager.start();
    if (hasState && (options.bootstrap || options.join !== null)) {
      logger.info(`existing state: -${options.bootstrap ? "bootstrap" : "join"} changes nothing in the log${options.bootstrap ? "; this node is the designated leader" : ""}`);
    }
    if (!hasLog && options.join !== null) {
      tasks.joinCluster(options.join).catch(fatal);
    }
    return {
      id: options.id,
      raftAddr: addrs.raftAddr,
      httpAddr: addrs.httpAddr,
      grpcAddr: grpc?.addr ?? null,
      api,
      stop: () => stop("stop"),
      reloadTls: () => tlsManager.reload("reload requested (SIGHUP)"),
      done,
    };
  } catch (error) {
    await grpc?.stop().catch(() => undefined);
    await http?.stop().catch(() => undefined);
    await transport?.close().catch(() => undefined);
    await storage.close().catch(() => undefined);
    throw error;
  }
}

function validateOptions(options: NodeOptions): void {
  const bad = (why: string) => new QklzlError("bad_request", why);
  if (!Number.isSafeInteger(options.id) || options.id <= 0) throw bad(`id must be a positive integer, got ${options.id}`);
  if (options.dataDir === "") throw bad("a data directory is required");
  if (!(options.heartbeatMs > 0)) throw bad("heartbeat must be positive");
  if (!(options.electionMs >= 2 * options.heartbeatMs)) throw bad("the election timeout must be at least twice the heartbeat");
  if (!(options.snapshotEntries > 0) || !(options.trailingEntries >= 0)) throw bad("snapshot entries must be positive, trailing entries ≥ 0");
  if (options.snapshotBytes !== undefined && !(options.snapshotBytes > 0)) throw bad("snapshot bytes must be positive");
  if (!(options.requestTimeoutMs > 0)) throw bad("request timeout must be positive");
  const tlsProblem = options.tls === undefined ? null : tlsFilesProblem(options.tls);
  if (tlsProblem !== null) throw bad(tlsProblem);
  const auto = options.autoCompaction;
  if (auto !== undefined && !(auto.mode === "revision" ? Number.isSafeInteger(auto.revisions) && auto.revisions >= 0 : Number.isSafeInteger(auto.retentionMs) && auto.retentionMs > 0)) {
    throw bad("auto compaction: a revision count >= 0, or a positive duration");
  }
  if (options.maxTxnOps !== undefined && !(Number.isSafeInteger(options.maxTxnOps) && options.maxTxnOps > 0)) throw bad("max txn ops must be a positive integer");
}
