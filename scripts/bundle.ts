/**
 * The release bundle: one tarball that runs embody on a robot with no network and no compiler.
 *
 *   npm run bundle -- --arch x64|arm64 [--out DIR] [--node VERSION] [--addons DIR] [--cache DIR]
 *
 * What goes in (under one top directory `embody-<version>-<arch>/`):
 *   node/bin/node            Node 24 LTS for the target, from the npm package node-linux-<arch>
 *   dist/                    the compiled JavaScript (tsc straight into the stage, no stale files)
 *   node_modules/            production dependencies (`npm ci --omit=dev`), native addons built
 *                            for the target's Node ABI; onnxruntime-node pruned to linux/<arch>
 *   models/<name>/           policy bundles (policy.yaml + ONNX), robots/ the example robots
 *   systemd/embody.service   the unit (installed by the Ansible role from the release it starts)
 *   docs/DEPLOY.md           the field technician's guide
 *   package.json, MANIFEST.json (version, commit, arch, Node, sha256 of every file), SHA256SUMS
 *
 * Native addons (unix-dgram, epoll, i2c-bus) use nan, so they are tied to the Node ABI: the ones
 * in the repository's node_modules were built for the developer's Node and will not load in the
 * bundled Node 24. They are rebuilt here with node-gyp against the headers that ship inside the
 * node-linux-<arch> package:
 *   - target = this machine's architecture: a native build (needs g++, make, python3);
 *   - other target: a cross build when the cross compiler is installed
 *     (Debian: g++-aarch64-linux-gnu for arm64, g++-x86-64-linux-gnu for x64);
 *   - or `--addons DIR`: prebuilt ones, laid out as node_modules/<pkg>/build/Release/*.node,
 *     e.g. copied from a bundle built on the robot itself (`npm run bundle -- --arch arm64` on a Pi).
 * Whatever builds them, the result is cached (per arch, Node ABI and package version) under
 * the cache directory and reused.
 *
 * Reproducible: files are walked in sorted order, tar gets `--sort=name`, the commit's time as
 * every mtime, owner 0:0, normalised modes, and gzip -n. Two builds of the same tree give the
 * same MANIFEST.json hashes (and, with the same compiler, the same tarball bytes).
 */
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { arch as hostArchName, homedir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

export type BundleArch = 'x64' | 'arm64';

/** Node 24 LTS, pinned so that two builds of one commit ship the same runtime. Bump on purpose. */
export const DEFAULT_NODE_VERSION = '24.21.0';

/** Packages whose native code is built by node-gyp at install time (the rest ship binaries). */
const GYP_ADDONS = ['unix-dgram', 'epoll', 'i2c-bus'] as const;

/** Cross compilers by target, as Debian names them. */
const CROSS_PREFIX: Record<BundleArch, string> = { x64: 'x86_64-linux-gnu-', arm64: 'aarch64-linux-gnu-' };
const CROSS_PACKAGE: Record<BundleArch, string> = { x64: 'g++-x86-64-linux-gnu', arm64: 'g++-aarch64-linux-gnu' };
/** What `uname -m` says on each target (the robot checks this before unpacking). */
export const MACHINE_OF: Record<BundleArch, string> = { x64: 'x86_64', arm64: 'aarch64' };

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export interface ManifestFile {
  readonly path: string;
  readonly sha256: string;
  readonly size: number;
  readonly mode: string;
  /** Set for symbolic links (their sha256 is that of the target string). */
  readonly link?: string;
}

export interface BundleMeta {
  readonly name: 'embody';
  readonly version: string;
  readonly package_version: string;
  readonly commit: string;
  readonly commit_time: number;
  readonly dirty: boolean;
  readonly arch: BundleArch;
  readonly machine: string;
  readonly node: { readonly version: string; readonly package: string; readonly integrity: string; readonly abi: string };
  readonly addons: Readonly<Record<string, string>>;
  readonly entry: string;
}

export interface Manifest extends BundleMeta {
  readonly files: readonly ManifestFile[];
}

class BundleError extends Error {}

function run(command: string, args: readonly string[], options: SpawnSyncOptions & { quiet?: boolean } = {}): string {
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, ...options });
  if (result.error) throw new BundleError(`${command}: ${result.error.message}`);
  if (result.status !== 0) {
    const output = `${String(result.stdout ?? '')}${String(result.stderr ?? '')}`.trim().split('\n').slice(-40).join('\n');
    throw new BundleError(`${command} ${args.join(' ')} failed (exit ${String(result.status)}):\n${output}`);
  }
  return String(result.stdout ?? '');
}

function log(message: string): void {
  process.stderr.write(`bundle: ${message}\n`);
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Every file under `dir`, sorted by byte order of the relative path (what tar --sort=name does). */
export function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    const names = readdirSync(join(dir, rel)).sort((a, b) => (Buffer.from(a) < Buffer.from(b) ? -1 : a === b ? 0 : 1));
    for (const name of names) {
      const path = rel === '' ? name : `${rel}/${name}`;
      const stat = lstatSync(join(dir, path));
      if (stat.isDirectory()) walk(path);
      else out.push(path);
    }
  };
  walk('');
  return out.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

/** The modes tar writes (normalised: no group/other write, executables stay executable). */
function normalisedMode(mode: number): string {
  const executable = (mode & 0o111) !== 0;
  return executable ? '0755' : '0644';
}

export function describeFiles(dir: string, exclude: ReadonlySet<string> = new Set()): ManifestFile[] {
  return listFiles(dir)
    .filter((path) => !exclude.has(path))
    .map((path) => {
      const full = join(dir, path);
      const stat = lstatSync(full);
      if (stat.isSymbolicLink()) {
        const target = readlinkSync(full);
        return { path, sha256: sha256(target), size: 0, mode: '0777', link: target };
      }
      return { path, sha256: sha256(readFileSync(full)), size: stat.size, mode: normalisedMode(stat.mode) };
    });
}

export const MANIFEST_FILE = 'MANIFEST.json';
export const SUMS_FILE = 'SHA256SUMS';

/** Writes MANIFEST.json and SHA256SUMS (sha256sum -c format) into the bundle's top directory. */
export function writeManifest(dir: string, meta: BundleMeta): Manifest {
  const files = describeFiles(dir, new Set([MANIFEST_FILE, SUMS_FILE]));
  const manifest: Manifest = { ...meta, files };
  writeFileSync(join(dir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
  const sums = files.filter((f) => f.link === undefined).map((f) => `${f.sha256}  ./${f.path}\n`);
  sums.push(`${sha256(readFileSync(join(dir, MANIFEST_FILE)))}  ./${MANIFEST_FILE}\n`);
  writeFileSync(join(dir, SUMS_FILE), sums.join(''));
  return manifest;
}

/**
 * tar + gzip, reproducibly: sorted names, one mtime (the commit's), owner root, normalised modes,
 * no name or time in the gzip header.
 */
export function packTarball(parent: string, top: string, outFile: string, mtime: number): void {
  mkdirSync(dirname(outFile), { recursive: true });
  const partial = `${outFile}.partial`;
  const tar = [
    'tar',
    '--sort=name',
    `--mtime=@${mtime}`,
    '--owner=0',
    '--group=0',
    '--numeric-owner',
    '--mode=u+rwX,go+rX,go-w',
    '--format=gnu',
    '-C',
    parent,
    '-cf',
    '-',
    top,
  ];
  const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  run('bash', ['-o', 'pipefail', '-c', `${tar.map(quote).join(' ')} | gzip -n -6 > ${quote(partial)}`]);
  renameSync(partial, outFile);
}

function hostArch(): BundleArch {
  const a = hostArchName();
  if (a === 'x64' || a === 'arm64') return a;
  throw new BundleError(`unsupported build machine architecture ${a}`);
}

function git(args: readonly string[]): string {
  return run('git', ['-C', repoRoot, ...args]).trim();
}

/** The inputs of a bundle whose uncommitted changes would make it differ from its commit. */
export const BUNDLE_INPUTS = ['src', 'models', 'bench', 'robots', 'systemd', 'docs/DEPLOY.md', 'package.json', 'package-lock.json', '.npmrc', 'tsconfig.json', 'tsconfig.build.json'];

interface NodeRuntime {
  readonly dir: string;
  readonly version: string;
  readonly packageName: string;
  readonly integrity: string;
}

/** node-linux-<arch>@<version> from the npm registry, packed once into the cache. */
function fetchNode(arch: BundleArch, version: string, cache: string): NodeRuntime {
  const packageName = `node-linux-${arch}`;
  const dir = join(cache, 'node', `${arch}-${version}`);
  const meta = join(dir, '.embody-node.json');
  if (existsSync(meta)) {
    const info = JSON.parse(readFileSync(meta, 'utf8')) as { integrity: string };
    return { dir: join(dir, 'package'), version, packageName, integrity: info.integrity };
  }
  log(`fetching ${packageName}@${version} (npm pack, once per version)`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const packed = JSON.parse(run('npm', ['pack', `${packageName}@${version}`, '--json', '--pack-destination', dir], { cwd: dir })) as Array<{
    filename: string;
    integrity: string;
    version: string;
  }>;
  const entry = packed[0];
  if (!entry || entry.version !== version) throw new BundleError(`npm pack ${packageName}@${version} returned ${JSON.stringify(packed)}`);
  run('tar', ['-xzf', join(dir, entry.filename), '-C', dir]);
  rmSync(join(dir, entry.filename));
  if (!existsSync(join(dir, 'package', 'bin', 'node'))) throw new BundleError(`${packageName}@${version} has no bin/node`);
  writeFileSync(meta, JSON.stringify({ integrity: entry.integrity }));
  return { dir: join(dir, 'package'), version, packageName, integrity: entry.integrity };
}

/** NODE_MODULE_VERSION of the headers in a node-linux-<arch> package (the addon ABI). */
function nodeAbi(nodeDir: string): string {
  const header = readFileSync(join(nodeDir, 'include', 'node', 'node_version.h'), 'utf8');
  const match = /#define NODE_MODULE_VERSION (\d+)/.exec(header);
  if (!match) throw new BundleError(`no NODE_MODULE_VERSION in ${nodeDir}/include/node/node_version.h`);
  return match[1];
}

function nodeGypScript(): string {
  const npmCli = realpathSync(run('bash', ['-c', 'command -v npm']).trim());
  const candidate = join(dirname(npmCli), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  if (!existsSync(candidate)) throw new BundleError(`node-gyp not found next to npm (${candidate})`);
  return candidate;
}

function commandExists(command: string): boolean {
  return spawnSync('bash', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

function addonVersion(stage: string, pkg: string): string {
  return (JSON.parse(readFileSync(join(stage, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
}

function builtAddonFiles(pkgDir: string): string[] {
  const release = join(pkgDir, 'build', 'Release');
  if (!existsSync(release)) return [];
  return readdirSync(release).filter((f) => f.endsWith('.node'));
}

/** Keep only build/Release/*.node: the rest of build/ holds absolute paths and object files. */
function pruneAddonBuild(pkgDir: string): void {
  const release = join(pkgDir, 'build', 'Release');
  const keep = builtAddonFiles(pkgDir).map((f) => [f, readFileSync(join(release, f))] as const);
  rmSync(join(pkgDir, 'build'), { recursive: true, force: true });
  mkdirSync(release, { recursive: true });
  for (const [name, data] of keep) writeFileSync(join(release, name), data, { mode: 0o755 });
}

/**
 * Native addons for the target: from the cache, from --addons, or built with node-gyp (natively
 * or with a cross compiler). Returns how each one was obtained, for the manifest.
 */
function provideAddons(stage: string, arch: BundleArch, node: NodeRuntime, cache: string, addonsDir: string | undefined): Record<string, string> {
  const abi = nodeAbi(node.dir);
  const how: Record<string, string> = {};
  const missing: string[] = [];
  for (const pkg of GYP_ADDONS) {
    const pkgDir = join(stage, 'node_modules', pkg);
    if (!existsSync(pkgDir)) continue;
    const version = addonVersion(stage, pkg);
    const cached = join(cache, 'addons', `${arch}-abi${abi}`, `${pkg}@${version}`);
    rmSync(join(pkgDir, 'build'), { recursive: true, force: true });
    const supplied = addonsDir === undefined ? undefined : join(addonsDir, 'node_modules', pkg, 'build', 'Release');
    if (supplied !== undefined && existsSync(supplied) && readdirSync(supplied).some((f) => f.endsWith('.node'))) {
      mkdirSync(join(pkgDir, 'build', 'Release'), { recursive: true });
      for (const f of readdirSync(supplied).filter((n) => n.endsWith('.node'))) cpSync(join(supplied, f), join(pkgDir, 'build', 'Release', f));
      how[pkg] = `${version}: supplied (--addons)`;
    } else if (existsSync(cached) && readdirSync(cached).some((f) => f.endsWith('.node'))) {
      // The manifest says how the cached files were built, not that they came from the cache:
      // a first build and a cached one must give the same manifest.
      mkdirSync(join(pkgDir, 'build', 'Release'), { recursive: true });
      for (const f of readdirSync(cached).filter((n) => n.endsWith('.node'))) cpSync(join(cached, f), join(pkgDir, 'build', 'Release', f));
      how[pkg] = existsSync(join(cached, 'built-by')) ? readFileSync(join(cached, 'built-by'), 'utf8').trim() : `${version}: node-gyp`;
    } else {
      const native = arch === hostArch();
      const prefix = CROSS_PREFIX[arch];
      if (!native && !commandExists(`${prefix}g++`)) {
        missing.push(pkg);
        continue;
      }
      log(`building ${pkg}@${version} for ${arch} (Node ABI ${abi}${native ? '' : `, cross with ${prefix}g++`})`);
      const env: NodeJS.ProcessEnv = { ...process.env, npm_config_nodedir: node.dir, JOBS: '2' };
      if (!native) Object.assign(env, { CC: `${prefix}gcc`, CXX: `${prefix}g++`, LINK: `${prefix}g++`, AR: `${prefix}ar` });
      // Run node-gyp under the target's Node when it can execute here, so the build sees the
      // right process.versions; across architectures the headers (--nodedir) decide the ABI.
      const nodeBin = native ? join(node.dir, 'bin', 'node') : process.execPath;
      run(nodeBin, [nodeGypScript(), 'rebuild', `--nodedir=${node.dir}`, `--arch=${arch}`, '--release', '-j', '2'], { cwd: pkgDir, env });
      const built = builtAddonFiles(pkgDir);
      if (built.length === 0) throw new BundleError(`node-gyp built nothing for ${pkg}`);
      rmSync(cached, { recursive: true, force: true });
      mkdirSync(cached, { recursive: true });
      for (const f of built) cpSync(join(pkgDir, 'build', 'Release', f), join(cached, f));
      how[pkg] = `${version}: node-gyp ${native ? 'native' : `cross (${prefix}g++)`}`;
      writeFileSync(join(cached, 'built-by'), `${how[pkg]}\n`);
    }
    pruneAddonBuild(pkgDir);
  }
  if (missing.length > 0) {
    throw new BundleError(
      [
        `no ${arch} build of the native addons ${missing.join(', ')} (Node ABI ${abi}).`,
        `They must be compiled for ${arch}; any one of:`,
        `  - install the cross compiler here: apt-get install ${CROSS_PACKAGE[arch]}   (then run this again)`,
        `  - build the bundle once on an ${arch} machine (a robot, or an ${arch} container) with`,
        `    npm run bundle -- --arch ${arch}, and copy its cache ${join('~/.cache/embody-bundle', 'addons', `${arch}-abi${abi}`)}`,
        `    into ${join(cache, 'addons')} here`,
        `  - or pass --addons DIR where DIR/node_modules/<package>/build/Release/*.node holds them`,
        `    (an unpacked ${arch} bundle is such a directory).`,
      ].join('\n'),
    );
  }
  return how;
}

/** Remove what cannot run on the target from packages that ship every platform's binaries. */
function pruneForeignBinaries(stage: string, arch: BundleArch): void {
  const ort = join(stage, 'node_modules', 'onnxruntime-node', 'bin');
  if (!existsSync(ort)) return;
  for (const napi of readdirSync(ort)) {
    for (const platform of readdirSync(join(ort, napi))) {
      const platformDir = join(ort, napi, platform);
      if (platform !== 'linux') {
        rmSync(platformDir, { recursive: true, force: true });
        continue;
      }
      for (const a of readdirSync(platformDir)) if (a !== arch) rmSync(join(platformDir, a), { recursive: true, force: true });
    }
  }
  if (!existsSync(join(ort, 'napi-v6', 'linux', arch, 'onnxruntime_binding.node'))) {
    throw new BundleError(`onnxruntime-node ships no linux/${arch} binary (looked in ${ort}/napi-v6/linux/${arch})`);
  }
}

/** Load every native module with the bundled Node (only when it can run here). */
function smokeTest(top: string, arch: BundleArch): string {
  const node = join(top, 'node', 'bin', 'node');
  let prefix: string[] = [];
  let env: NodeJS.ProcessEnv = process.env;
  if (arch !== hostArch()) {
    // qemu-user runs the target's Node with the cross toolchain's libc and libstdc++ as sysroot.
    const qemu = arch === 'arm64' ? 'qemu-aarch64-static' : 'qemu-x86_64-static';
    const sysroot = `/usr/${CROSS_PREFIX[arch].slice(0, -1)}`;
    if (!commandExists(qemu) || !existsSync(join(sysroot, 'lib'))) {
      return `not run (${arch} binaries cannot execute here; with qemu-user-static and ${CROSS_PACKAGE[arch]} installed they are run under qemu)`;
    }
    prefix = [qemu];
    env = { ...process.env, QEMU_LD_PREFIX: sysroot };
  }
  const script = "const r=require('node:module').createRequire(process.cwd()+'/');for(const m of ['unix-dgram','epoll','i2c-bus','onnxruntime-node'])r(m);console.log(process.version)";
  const [command, ...args] = [...prefix, node, '-e', script];
  const version = run(command, args, { cwd: top, env }).trim();
  run(command, [...args.slice(0, -2), join(top, 'dist', 'src', 'cli.js'), 'check', '--robot', join(top, 'robots', 'sim-arm.yaml')], { cwd: top, env });
  return `ok (${version}${prefix.length > 0 ? ' under qemu' : ''}: addons load, embody check passes)`;
}

export interface BundleOptions {
  readonly arch: BundleArch;
  readonly outDir?: string;
  readonly nodeVersion?: string;
  readonly addonsDir?: string;
  readonly cacheDir?: string;
  /**
   * Where the bundle's inputs (BUNDLE_INPUTS) are read from: the repository by
   * default, or a snapshot of it (the deploy test builds twice from one snapshot so that edits
   * made meanwhile cannot differ between the builds).
   */
  readonly sourceDir?: string;
  /** Commit and dirty state to record; read from the repository's git when not given. */
  readonly revision?: Revision;
}

export interface Revision {
  readonly commit: string;
  /** Seconds since the epoch: every file's mtime in the tarball. */
  readonly commitTime: number;
  /** Uncommitted changes in BUNDLE_INPUTS. */
  readonly dirty: boolean;
}

/** The repository's HEAD commit, its time, and whether the bundle inputs differ from it. */
export function readRevision(): Revision {
  return {
    commit: git(['rev-parse', 'HEAD']),
    commitTime: Number(git(['log', '-1', '--format=%ct', 'HEAD'])),
    dirty: git(['status', '--porcelain', '--', ...BUNDLE_INPUTS]) !== '',
  };
}

export interface BundleResult {
  readonly file: string;
  readonly sha256: string;
  readonly manifest: Manifest;
  readonly smoke: string;
}

export function buildBundle(options: BundleOptions): BundleResult {
  const { arch } = options;
  const outDir = resolve(options.outDir ?? join(repoRoot, 'dist-bundle'));
  const cache = resolve(options.cacheDir ?? process.env.EMBODY_BUNDLE_CACHE ?? join(homedir(), '.cache', 'embody-bundle'));
  const nodeVersion = options.nodeVersion ?? DEFAULT_NODE_VERSION;
  if (!/^24\.\d+\.\d+$/.test(nodeVersion)) throw new BundleError(`--node must be an exact Node 24 version (e.g. ${DEFAULT_NODE_VERSION}), got ${nodeVersion}`);

  const source = resolve(options.sourceDir ?? repoRoot);
  const pkg = JSON.parse(readFileSync(join(source, 'package.json'), 'utf8')) as { version: string };
  const { commit, commitTime, dirty } = options.revision ?? readRevision();
  if (dirty) log('uncommitted changes in the bundle inputs: the version is marked -dirty (ship bundles from a clean commit)');

  const node = fetchNode(arch, nodeVersion, cache);

  // The stage lives outside the repository (the linter and vitest must not see its node_modules),
  // one per build process so that concurrent builds do not collide. Nothing in the bundle depends
  // on its path: compiled addons come from the cache after their first build.
  const stageParent = join(cache, 'stage', `${arch}-${process.pid}`);
  try {
    return stageAndPack({ arch, source, outDir, cache, node, commit, commitTime, dirty, version: pkg.version, addonsDir: options.addonsDir }, stageParent);
  } finally {
    rmSync(stageParent, { recursive: true, force: true });
  }
}

interface StageInputs {
  readonly arch: BundleArch;
  readonly source: string;
  readonly outDir: string;
  readonly cache: string;
  readonly node: NodeRuntime;
  readonly commit: string;
  readonly commitTime: number;
  readonly dirty: boolean;
  readonly version: string;
  readonly addonsDir: string | undefined;
}

function stageAndPack(inputs: StageInputs, stageParent: string): BundleResult {
  const { arch, source, outDir, cache, node, commit, commitTime, dirty } = inputs;
  const pkg = { version: inputs.version };
  const top = join(stageParent, 'embody');
  rmSync(stageParent, { recursive: true, force: true });
  mkdirSync(top, { recursive: true });

  log('compiling TypeScript into the stage');
  run(process.execPath, [join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(source, 'tsconfig.build.json'), '--outDir', join(top, 'dist'), '--sourceMap', 'false'], { cwd: source });
  if (!existsSync(join(top, 'dist', 'src', 'cli.js'))) throw new BundleError('tsc produced no dist/src/cli.js');

  log('installing production dependencies (npm ci --omit=dev --ignore-scripts)');
  for (const f of ['package.json', 'package-lock.json', '.npmrc']) cpSync(join(source, f), join(top, f));
  run('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], { cwd: top, env: { ...process.env, npm_config_update_notifier: 'false' } });
  rmSync(join(top, '.npmrc'));
  pruneForeignBinaries(top, arch);
  const addons = provideAddons(top, arch, node, cache, inputs.addonsDir === undefined ? undefined : resolve(inputs.addonsDir));

  log('adding Node, policies and robots');
  mkdirSync(join(top, 'node', 'bin'), { recursive: true });
  cpSync(join(node.dir, 'bin', 'node'), join(top, 'node', 'bin', 'node'));
  cpSync(join(node.dir, 'LICENSE'), join(top, 'node', 'LICENSE'));
  for (const model of readdirSync(join(source, 'models'))) {
    const dir = join(source, 'models', model);
    if (!statSync(dir).isDirectory() || !existsSync(join(dir, 'policy.yaml'))) continue;
    cpSync(dir, join(top, 'models', model), { recursive: true });
  }
  if (!existsSync(join(top, 'models', 'demo', 'policy.yaml'))) {
    throw new BundleError('models/demo/policy.yaml is missing: build it with `npx tsx models/build-demo-policy.ts` (npm run models)');
  }
  cpSync(join(source, 'robots'), join(top, 'robots'), { recursive: true });
  // The unit travels with the release it starts (the Ansible role installs it from here), and the
  // technician's guide with both.
  for (const file of ['systemd/embody.service', 'docs/DEPLOY.md']) {
    if (!existsSync(join(source, file))) throw new BundleError(`${file} is missing`);
    mkdirSync(dirname(join(top, file)), { recursive: true });
    cpSync(join(source, file), join(top, file));
  }

  // The version names the release directory on the robot, so it must change with the content:
  // package version + commit, and for an uncommitted tree a hash of what it contains.
  const short = commit.slice(0, 7);
  let version = `${pkg.version}-g${short}`;
  if (dirty) {
    const digest = sha256(describeFiles(top).map((f) => `${f.sha256} ${f.mode} ${f.path}`).join('\n')).slice(0, 8);
    version += `-dirty.${digest}`;
  }
  const name = `embody-${version}-${arch}`;
  const smoke = smokeTest(top, arch);
  log(`smoke test: ${smoke}`);

  const manifest = writeManifest(top, {
    name: 'embody',
    version,
    package_version: pkg.version,
    commit,
    commit_time: commitTime,
    dirty,
    arch,
    machine: MACHINE_OF[arch],
    node: { version: `v${node.version}`, package: `${node.packageName}@${node.version}`, integrity: node.integrity, abi: nodeAbi(node.dir) },
    addons,
    entry: 'dist/src/cli.js',
  });
  renameSync(top, join(stageParent, name));
  const file = join(outDir, `${name}.tar.gz`);
  log(`packing ${relative(process.cwd(), file) || file}`);
  packTarball(stageParent, name, file, commitTime);
  const digest = sha256(readFileSync(file));
  writeFileSync(`${file}.sha256`, `${digest}  ${name}.tar.gz\n`);
  return { file, sha256: digest, manifest, smoke };
}

function main(): void {
  const { values } = parseArgs({
    options: {
      arch: { type: 'string', default: hostArch() },
      out: { type: 'string' },
      node: { type: 'string' },
      addons: { type: 'string' },
      cache: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write('usage: npm run bundle -- --arch x64|arm64 [--out DIR] [--node 24.x.y] [--addons DIR] [--cache DIR]\n');
    return;
  }
  if (values.arch !== 'x64' && values.arch !== 'arm64') throw new BundleError(`--arch must be x64 or arm64, got ${values.arch}`);
  const started = performance.now();
  const result = buildBundle({
    arch: values.arch,
    ...(values.out === undefined ? {} : { outDir: values.out }),
    ...(values.node === undefined ? {} : { nodeVersion: values.node }),
    ...(values.addons === undefined ? {} : { addonsDir: values.addons }),
    ...(values.cache === undefined ? {} : { cacheDir: values.cache }),
  });
  const bytes = statSync(result.file).size;
  log(`${result.manifest.files.length} files, ${(bytes / 1e6).toFixed(1)} MB, ${((performance.now() - started) / 1000).toFixed(1)} s`);
  process.stdout.write(`${result.file}\nsha256 ${result.sha256}\nversion ${result.manifest.version}\n`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  try {
    main();
  } catch (error) {
    process.stderr.write(`bundle: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  }
}
