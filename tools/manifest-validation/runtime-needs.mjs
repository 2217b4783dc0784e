// The run-time check of a set of manifests against runtime-needs.yaml: what each program writes, reads,
// listens on and connects to, the host paths and privileges it needs and the API rights it uses, as read
// from its source. The schema check (validate.mjs) says a manifest is well formed; this says its programs
// can run in it. All documents of all files are checked together: a socket, a Service or a RoleBinding
// may be in another file than the pod that needs it.
import { readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";

const WORKLOAD_KINDS = new Set(["Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet", "Pod"]);
const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

export function loadNeeds(file) {
  const table = parse(readFileSync(file, "utf8"));
  if (!Array.isArray(table?.images)) {
    throw new Error(`${file}: no images list`);
  }
  for (const entry of table.images) {
    for (const need of entry.needs ?? []) {
      if (!need.source) {
        throw new Error(`${file}: ${entry.image}: a need without source: ${JSON.stringify(need)}`);
      }
    }
  }
  return table.images;
}

function imageRepository(image) {
  const at = image.indexOf("@");
  const withoutDigest = at >= 0 ? image.slice(0, at) : image;
  const colon = withoutDigest.lastIndexOf(":");
  return colon > withoutDigest.lastIndexOf("/") ? withoutDigest.slice(0, colon) : withoutDigest;
}

function imageTag(image) {
  const repository = imageRepository(image);
  return image.length > repository.length + 1 ? image.slice(repository.length + 1).split("@")[0] : "";
}

const normal = (p) => path.posix.normalize(p).replace(/\/+$/, "") || "/";

/** The value of a Go-style flag: -x V, -x=V, --x V, --x=V. */
function flagValue(args, flag) {
  const name = flag.replace(/^-+/, "");
  for (let i = 0; i < args.length; i++) {
    const arg = String(args[i]);
    const bare = arg.replace(/^-+/, "");
    if (!arg.startsWith("-")) {
      continue;
    }
    if (bare === name && i + 1 < args.length) {
      return String(args[i + 1]);
    }
    if (bare.startsWith(`${name}=`)) {
      return bare.slice(name.length + 1);
    }
  }
  return undefined;
}

class Cluster {
  constructor(documents) {
    this.documents = documents;
    this.workloads = documents.filter((d) => WORKLOAD_KINDS.has(d.kind)).map((d) => new Workload(d, this));
  }

  find(kind, name, namespace) {
    return this.documents.find((d) => d.kind === kind && d.metadata?.name === name && (namespace === undefined || (d.metadata?.namespace ?? "default") === namespace));
  }

  all(kind) {
    return this.documents.filter((d) => d.kind === kind);
  }
}

class Workload {
  constructor(document, cluster) {
    this.document = document;
    this.cluster = cluster;
    this.namespace = document.metadata?.namespace ?? "default";
    this.pod = document.kind === "Pod" ? document.spec ?? {} : document.spec?.template?.spec ?? {};
    this.labels = document.kind === "Pod" ? document.metadata?.labels ?? {} : document.spec?.template?.metadata?.labels ?? {};
    this.label = `${document.kind} ${this.namespace}/${document.metadata?.name}`;
    this.claims = new Set((document.spec?.volumeClaimTemplates ?? []).map((c) => c.metadata?.name));
  }

  containers() {
    return [...(this.pod.initContainers ?? []), ...(this.pod.containers ?? [])];
  }

  volume(name) {
    if (this.claims.has(name)) {
      return { name, persistentVolumeClaim: { claimName: name } };
    }
    return (this.pod.volumes ?? []).find((v) => v.name === name);
  }

  serviceAccount() {
    return this.pod.serviceAccountName ?? this.pod.serviceAccount ?? "default";
  }
}

/** Where a container path lies: the mount and volume under it, and the path inside the volume. */
function resolve(workload, container, containerPath) {
  const p = normal(containerPath);
  let best;
  for (const mount of container.volumeMounts ?? []) {
    const at = normal(mount.mountPath);
    if ((p === at || p.startsWith(at === "/" ? "/" : `${at}/`)) && (!best || at.length > normal(best.mountPath).length)) {
      best = mount;
    }
  }
  if (!best) {
    return undefined;
  }
  const rest = path.posix.relative(normal(best.mountPath), p);
  const volume = workload.volume(best.name);
  return { mount: best, volume, rest: best.subPath ? path.posix.join(best.subPath, rest) : rest };
}

function writable(resolved) {
  if (!resolved?.volume || resolved.mount.readOnly) {
    return false;
  }
  const v = resolved.volume;
  if (v.csi) {
    return v.csi.readOnly !== true;
  }
  return Boolean(v.emptyDir || v.hostPath || v.persistentVolumeClaim || v.ephemeral);
}

function volumeKind(volume) {
  return volume ? Object.keys(volume).find((k) => k !== "name") ?? "?" : "no volume";
}

/** A path as the node sees it (hostPath), as the pod sees it (a pod volume), or through a CSI driver. */
function location(workload, container, containerPath, bridges) {
  const resolved = resolve(workload, container, containerPath);
  if (!resolved?.volume) {
    return { key: `${workload.label} container ${container.name}: ${normal(containerPath)} (image file system)`, resolved };
  }
  const v = resolved.volume;
  if (v.hostPath) {
    return { key: `node:${normal(path.posix.join(v.hostPath.path, resolved.rest))}`, resolved };
  }
  if (v.csi && bridges.has(v.csi.driver)) {
    return { key: `node:${normal(path.posix.join(bridges.get(v.csi.driver), resolved.rest))}`, resolved };
  }
  if (v.csi) {
    return { key: `csi:${v.csi.driver}:${resolved.rest}`, resolved };
  }
  return { key: `${workload.label} volume ${v.name}:${resolved.rest || "."}`, resolved };
}

/** The text of the configuration file a container reads at containerPath, from the ConfigMap mounted there. */
function configText(workload, container, containerPath) {
  const resolved = resolve(workload, container, containerPath);
  const configMap = resolved?.volume?.configMap;
  if (!configMap) {
    return { problem: `its configuration ${containerPath} is not on a ConfigMap volume` };
  }
  let key = resolved.rest;
  const item = (configMap.items ?? []).find((i) => normal(i.path) === normal(resolved.rest));
  if (item) {
    key = item.key;
  }
  const document = workload.cluster.find("ConfigMap", configMap.name, workload.namespace);
  if (!document) {
    return { problem: `ConfigMap ${workload.namespace}/${configMap.name} (its configuration ${containerPath}) is not in these manifests` };
  }
  const text = document.data?.[key];
  if (typeof text !== "string") {
    return { problem: `ConfigMap ${workload.namespace}/${configMap.name} has no key ${key} (its configuration ${containerPath})` };
  }
  return { text };
}

function envValue(container, name) {
  const env = (container.env ?? []).find((e) => e.name === name);
  return env ? env.value ?? (env.valueFrom ? "(from valueFrom)" : "") : undefined;
}

class Context {
  constructor(workload, container, entry) {
    this.workload = workload;
    this.container = container;
    this.entry = entry;
    this.args = [...(container.command ?? []), ...(container.args ?? [])];
    this.problems = [];
    this.config = undefined;
    if (entry.config) {
      const file = flagValue(this.args, entry.config);
      if (file === undefined) {
        this.problems.push(`no ${entry.config} flag: the table reads its settings from that file`);
      } else {
        const { text, problem } = configText(workload, container, file);
        if (problem) {
          this.problems.push(problem);
        }
        this.config = text;
      }
    }
    this.settings = new Map();
    for (const [name, spec] of Object.entries(entry.settings ?? {})) {
      this.settings.set(name, this.setting(spec));
    }
  }

  setting(spec) {
    if (spec.arg) {
      const value = flagValue(this.args, spec.arg);
      if (value !== undefined) {
        return value;
      }
    }
    if (spec.find && this.config !== undefined) {
      const match = new RegExp(spec.find, "m").exec(this.config);
      if (match) {
        return match[1];
      }
    }
    if (spec.env) {
      const value = envValue(this.container, spec.env);
      if (value !== undefined) {
        return value.replace(/^unix:\/\//, "");
      }
    }
    if (spec.default === "(pod namespace)") {
      return this.workload.namespace;
    }
    return spec.default === undefined ? undefined : String(spec.default);
  }

  /** ${name} references replaced; undefined when a referenced setting has no value. */
  expand(value) {
    if (typeof value !== "string") {
      return value;
    }
    let missing = false;
    const expanded = value.replace(/\$\{(\w+)\}/g, (_, name) => {
      const v = this.settings.get(name);
      if (v === undefined) {
        missing = true;
        return "";
      }
      return v;
    });
    return missing ? undefined : expanded;
  }

  applies(need) {
    const when = need.when ?? {};
    if (when.config && !(this.config !== undefined && new RegExp(when.config, "m").test(this.config))) {
      return false;
    }
    if (when.argAbsent) {
      const [flag, value] = String(when.argAbsent).split("=");
      const given = flagValue(this.args, flag);
      if (value === undefined ? given !== undefined : given === value) {
        return false;
      }
    }
    if (when.envNot && Object.entries(when.envNot).some(([name, value]) => envValue(this.container, name) === value)) {
      return false;
    }
    return true;
  }

  get label() {
    return `${this.workload.label} container ${this.container.name} (${this.entry.image})`;
  }
}

const because = (need) => `${need.why ? `${need.why}; ` : ""}source: ${need.source}`;

function grants(cluster, workload) {
  const account = workload.serviceAccount();
  const subjectMatches = (binding) =>
    (binding.subjects ?? []).some(
      (s) => s.kind === "ServiceAccount" && s.name === account && (s.namespace ?? binding.metadata?.namespace) === workload.namespace,
    );
  const result = [];
  for (const binding of cluster.all("ClusterRoleBinding").filter(subjectMatches)) {
    const role = cluster.find("ClusterRole", binding.roleRef?.name);
    for (const rule of role?.rules ?? []) {
      result.push({ rule, namespace: undefined });
    }
  }
  for (const binding of cluster.all("RoleBinding").filter(subjectMatches)) {
    const namespace = binding.metadata?.namespace ?? "default";
    const role = binding.roleRef?.kind === "ClusterRole"
      ? cluster.find("ClusterRole", binding.roleRef?.name)
      : cluster.find("Role", binding.roleRef?.name, namespace);
    for (const rule of role?.rules ?? []) {
      result.push({ rule, namespace });
    }
  }
  return result;
}

function allows(grant, need, verb) {
  const { rule, namespace } = grant;
  const has = (list, value) => (list ?? []).includes(value) || (list ?? []).includes("*");
  if (namespace !== undefined && namespace !== need.namespace) {
    return false;
  }
  if (!has(rule.apiGroups, need.apiGroup ?? "") || !has(rule.resources, need.resource) || !has(rule.verbs, verb)) {
    return false;
  }
  const names = rule.resourceNames ?? [];
  return names.length === 0 || (need.resourceName !== undefined && names.includes(need.resourceName));
}

function portNumber(container, port) {
  if (typeof port === "number") {
    return port;
  }
  if (/^\d+$/.test(String(port))) {
    return Number(port);
  }
  return (container.ports ?? []).find((p) => p.name === port)?.containerPort;
}

const loopback = (address) => ["localhost", "127.0.0.1", "::1", "[::1]"].includes(address);

export function checkRuntimeNeeds(documents, entries) {
  const cluster = new Cluster(documents);
  const problems = [];
  const contexts = [];
  for (const workload of cluster.workloads) {
    for (const container of workload.containers()) {
      const entry = entries.find((e) => e.image === imageRepository(container.image ?? ""));
      if (!entry) {
        continue;
      }
      const context = new Context(workload, container, entry);
      contexts.push(context);
      const tag = imageTag(container.image);
      if (entry.version && tag.replace(/^v/, "") !== String(entry.version).replace(/^v/, "")) {
        problems.push(`${context.label}: runs ${tag || "no tag"}, but runtime-needs.yaml was read from ${entry.version}: read the source of ${tag} and update its row`);
      }
      problems.push(...context.problems.map((p) => `${context.label}: ${p}`));
    }
  }

  // First what is offered: sockets, CSI directories, listening ports.
  const bridges = new Map();
  for (const c of contexts) {
    for (const need of (c.entry.needs ?? []).filter((n) => n.exposesCsi && c.applies(n))) {
      const driver = c.expand(need.exposesCsi.driver);
      const dir = c.expand(need.exposesCsi.dir);
      if (dir === undefined) {
        problems.push(`${c.label}: no ${JSON.stringify(need.exposesCsi.dir)} is set (${because(need)})`);
        continue;
      }
      const resolved = resolve(c.workload, c.container, dir);
      if (!resolved?.volume?.hostPath) {
        problems.push(`${c.label}: exposes ${dir} to pods, but no hostPath volume is mounted there (${because(need)})`);
        continue;
      }
      bridges.set(driver, normal(path.posix.join(resolved.volume.hostPath.path, resolved.rest)));
    }
  }
  const sockets = new Map();
  for (const c of contexts) {
    c.ports = [];
    for (const need of (c.entry.needs ?? []).filter((n) => n.listens && c.applies(n))) {
      if (need.listens.socket !== undefined) {
        const socket = c.expand(need.listens.socket);
        if (socket === undefined) {
          problems.push(`${c.label}: its socket path ${need.listens.socket} is not set (${because(need)})`);
          continue;
        }
        const where = location(c.workload, c.container, socket, bridges);
        sockets.set(where.key, { context: c, socket });
        const dir = resolve(c.workload, c.container, path.posix.dirname(socket));
        if (!writable(dir)) {
          problems.push(`${c.label}: creates the socket ${socket}, but ${path.posix.dirname(socket)} is not on a writable volume (${volumeKind(dir?.volume)}) (${because(need)})`);
        }
      } else {
        const port = c.expand(String(need.listens.port));
        const address = c.expand(need.listens.address ?? "0.0.0.0");
        if (port !== undefined) {
          c.ports.push({ port: Number(port), address, need });
        }
      }
    }
  }

  for (const c of contexts) {
    const { workload, container } = c;
    const readOnlyRoot = container.securityContext?.readOnlyRootFilesystem === true;
    for (const need of (c.entry.needs ?? []).filter((n) => c.applies(n))) {
      if (need.writes !== undefined) {
        const target = c.expand(need.writes);
        if (target === undefined) {
          problems.push(`${c.label}: the path it writes (${need.writes}) is not set (${because(need)})`);
        } else if (readOnlyRoot && !writable(resolve(workload, container, target))) {
          const resolved = resolve(workload, container, target);
          problems.push(
            `${c.label}: writes ${target}, but its root filesystem is read-only and ${resolved ? `${target} is on a read-only ${volumeKind(resolved.volume)} volume` : "no writable volume is mounted there"} (${because(need)})`,
          );
        }
      } else if (need.reads !== undefined) {
        const target = c.expand(need.reads);
        if (target === undefined) {
          problems.push(`${c.label}: the path it reads (${need.reads}) is not set (${because(need)})`);
        } else if (normal(target).startsWith(`${SERVICE_ACCOUNT_DIR}/`)) {
          const account = cluster.find("ServiceAccount", workload.serviceAccount(), workload.namespace);
          const automount = workload.pod.automountServiceAccountToken ?? account?.automountServiceAccountToken ?? true;
          if (!automount && !resolve(workload, container, target)) {
            problems.push(`${c.label}: reads ${target}, but the service account token is not mounted (automountServiceAccountToken: false) (${because(need)})`);
          }
        } else {
          const resolved = resolve(workload, container, target);
          if (!resolved?.volume) {
            problems.push(`${c.label}: reads ${target}, but no volume is mounted there (${because(need)})`);
          } else if (resolved.volume.projected) {
            const files = (resolved.volume.projected.sources ?? []).map((s) => s.serviceAccountToken?.path ?? s.configMap?.items?.map((i) => i.path) ?? s.secret?.items?.map((i) => i.path)).flat().filter(Boolean);
            if (files.length > 0 && !files.includes(resolved.rest)) {
              problems.push(`${c.label}: reads ${target}, but the projected volume ${resolved.volume.name} holds ${files.join(", ")} (${because(need)})`);
            }
          }
        }
      } else if (need.connects?.socket !== undefined) {
        const socket = c.expand(need.connects.socket);
        if (socket === undefined) {
          problems.push(`${c.label}: the socket it connects to (${need.connects.socket}) is not set (${because(need)})`);
          continue;
        }
        const where = location(workload, container, socket, bridges);
        if (!sockets.has(where.key)) {
          const offered = [...sockets.entries()].map(([key, s]) => `${s.context.container.name} at ${key}`).join("; ");
          problems.push(`${c.label}: connects to ${socket} (${where.key}), where no container listens (sockets: ${offered || "none"}) (${because(need)})`);
        }
      } else if (need.connects?.service !== undefined) {
        const host = c.expand(need.connects.service);
        const port = Number(c.expand(String(need.connects.port)));
        const [name, namespace = workload.namespace] = (host ?? "").split(".");
        const service = cluster.find("Service", name, namespace);
        if (!service) {
          problems.push(`${c.label}: connects to ${host}:${port}, but there is no Service ${namespace}/${name} (${because(need)})`);
        } else if (!(service.spec?.ports ?? []).some((p) => p.port === port)) {
          problems.push(`${c.label}: connects to ${host}:${port}, but Service ${namespace}/${name} has no port ${port} (${because(need)})`);
        }
      } else if (need.nodePath) {
        const p = c.expand(need.nodePath.path);
        const is = c.expand(need.nodePath.is);
        const where = p === undefined ? undefined : location(workload, container, p, bridges);
        if (is === undefined || where?.key !== `node:${normal(is)}`) {
          problems.push(`${c.label}: ${p} must be the node's ${is ?? "(unset)"}, but it is ${where?.key ?? "unset"} (${because(need)})`);
        }
      } else if (need.hostPath) {
        const at = c.expand(need.hostPath.at);
        const resolved = at === undefined ? undefined : resolve(workload, container, at);
        const ok = resolved?.volume?.hostPath && normal(resolved.mount.mountPath) === normal(at) && normal(resolved.volume.hostPath.path) === normal(need.hostPath.path)
          && (!need.hostPath.propagation || resolved.mount.mountPropagation === need.hostPath.propagation);
        if (!ok) {
          problems.push(`${c.label}: needs the node's ${need.hostPath.path} at ${at}${need.hostPath.propagation ? ` with mountPropagation ${need.hostPath.propagation}` : ""} (${because(need)})`);
        }
      } else if (need.env !== undefined) {
        const name = c.expand(need.env);
        if (envValue(container, name) === undefined) {
          problems.push(`${c.label}: needs the environment variable ${name} (${because(need)})`);
        }
      } else if (need.pod) {
        for (const [key, value] of Object.entries(need.pod)) {
          if ((workload.pod[key] ?? false) !== value) {
            problems.push(`${c.label}: needs ${key}: ${value} on its pod (${because(need)})`);
          }
        }
      } else if (need.privileged) {
        if (container.securityContext?.privileged !== true) {
          problems.push(`${c.label}: needs a privileged container (${because(need)})`);
        }
      } else if (need.object) {
        const name = c.expand(need.object.name);
        const namespace = need.object.namespace === undefined ? undefined : c.expand(need.object.namespace);
        if (!cluster.find(need.object.kind, name, namespace)) {
          problems.push(`${c.label}: expects ${need.object.kind} ${namespace ? `${namespace}/` : ""}${name}, which is not in these manifests (${because(need)})`);
        }
      } else if (need.rbac) {
        const rbac = { ...need.rbac, namespace: need.rbac.namespace === undefined ? undefined : c.expand(need.rbac.namespace), resourceName: need.rbac.resourceName === undefined ? undefined : c.expand(need.rbac.resourceName) };
        const available = grants(cluster, workload);
        const resource = `${rbac.resource}${rbac.apiGroup ? `.${rbac.apiGroup}` : ""}${rbac.resourceName ? ` "${rbac.resourceName}"` : ""}`;
        for (const verb of rbac.verbs) {
          if (!available.some((g) => allows(g, rbac, verb))) {
            problems.push(`${c.label}: service account ${workload.namespace}/${workload.serviceAccount()} may not "${verb}" ${resource}${rbac.namespace ? ` in namespace ${rbac.namespace}` : " cluster-wide"} (${because(need)})`);
          }
        }
      }
    }

    // Ports: probes and declared container ports must be ports the program listens on, reachable from the kubelet.
    const listened = (number) => c.ports.find((p) => p.port === number);
    for (const probeName of ["livenessProbe", "readinessProbe", "startupProbe"]) {
      const probe = container[probeName];
      const port = probe?.httpGet?.port ?? probe?.tcpSocket?.port ?? probe?.grpc?.port;
      if (port === undefined) {
        continue;
      }
      const number = portNumber(container, port);
      const listener = number === undefined ? undefined : listened(number);
      if (!listener) {
        problems.push(`${c.label}: ${probeName} uses port ${port}${number !== undefined && number !== port ? ` (${number})` : ""}, where the program does not listen (it listens on ${c.ports.map((p) => p.port).join(", ") || "no TCP port"})`);
      } else if (loopback(listener.address)) {
        problems.push(`${c.label}: ${probeName} uses port ${number}, which the program binds to ${listener.address} only: the kubelet cannot reach it (${because(listener.need)})`);
      }
    }
    for (const declared of container.ports ?? []) {
      if (!listened(declared.containerPort)) {
        problems.push(`${c.label}: declares containerPort ${declared.containerPort}${declared.name ? ` (${declared.name})` : ""}, where the program does not listen (it listens on ${c.ports.map((p) => p.port).join(", ") || "no TCP port"})`);
      }
    }
  }

  // Services: every targetPort must be a port of a selected container, and one its program listens on.
  for (const service of cluster.all("Service")) {
    const namespace = service.metadata?.namespace ?? "default";
    const selector = service.spec?.selector;
    if (!selector) {
      continue;
    }
    const selected = cluster.workloads.filter((w) => w.namespace === namespace && Object.entries(selector).every(([k, v]) => w.labels[k] === v));
    if (selected.length === 0) {
      problems.push(`Service ${namespace}/${service.metadata?.name}: selects no pod of these manifests`);
      continue;
    }
    for (const servicePort of service.spec?.ports ?? []) {
      const target = servicePort.targetPort ?? servicePort.port;
      for (const workload of selected) {
        const owners = workload.containers().filter((ct) => portNumber(ct, target) !== undefined && (typeof target !== "string" || /^\d+$/.test(target) || (ct.ports ?? []).some((p) => p.name === target)));
        if (typeof target === "string" && !/^\d+$/.test(target) && owners.length === 0) {
          problems.push(`Service ${namespace}/${service.metadata?.name} port ${servicePort.port}: targetPort ${target} is no container port of ${workload.label}`);
        }
        for (const owner of owners) {
          const c = contexts.find((x) => x.container === owner && x.workload === workload);
          const number = portNumber(owner, target);
          if (c && !c.ports.some((p) => p.port === number && !loopback(p.address))) {
            problems.push(`Service ${namespace}/${service.metadata?.name} port ${servicePort.port}: targets ${number} of ${c.label}, where the program does not listen on a reachable address`);
          }
        }
      }
    }
  }

  // Webhooks: the API server must find the Service and port its clientConfig names.
  for (const kind of ["ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"]) {
    for (const configuration of cluster.all(kind)) {
      for (const webhook of configuration.webhooks ?? []) {
        const ref = webhook.clientConfig?.service;
        if (!ref) {
          continue;
        }
        const service = cluster.find("Service", ref.name, ref.namespace);
        const port = ref.port ?? 443;
        if (!service) {
          problems.push(`${kind} ${configuration.metadata?.name} webhook ${webhook.name}: no Service ${ref.namespace}/${ref.name}`);
        } else if (!(service.spec?.ports ?? []).some((p) => p.port === port)) {
          problems.push(`${kind} ${configuration.metadata?.name} webhook ${webhook.name}: Service ${ref.namespace}/${ref.name} has no port ${port}`);
        }
      }
    }
  }
  return problems;
}
