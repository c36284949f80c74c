/**
 * A minimal ONNX graph builder: static-shape inputs and outputs, initializers stored as raw
 * little-endian bytes, nodes with typed attributes. Enough to write the policies this project
 * ships without a Python toolchain; not a general ONNX library (no shape inference, no checker:
 * onnxruntime validates the graph when it loads it, and the tests load every file written).
 */
import { AttributeType, DataType, encodeModel, type AttributeProto, type DataTypeCode, type ModelProto, type NodeProto, type TensorProto, type ValueInfoProto } from './proto.js';

export type ElementType = 'float32' | 'uint8' | 'int8' | 'int32' | 'int64';

const dataTypeOf: Record<ElementType, DataTypeCode> = {
  float32: DataType.FLOAT,
  uint8: DataType.UINT8,
  int8: DataType.INT8,
  int32: DataType.INT32,
  int64: DataType.INT64,
};

const bytesPerElement: Record<ElementType, number> = { float32: 4, uint8: 1, int8: 1, int32: 4, int64: 8 };

/** An attribute value with its ONNX type made explicit (a JS number cannot tell INT from FLOAT). */
export type Attribute =
  | { readonly kind: 'int'; readonly value: number }
  | { readonly kind: 'ints'; readonly value: readonly number[] }
  | { readonly kind: 'float'; readonly value: number }
  | { readonly kind: 'floats'; readonly value: readonly number[] }
  | { readonly kind: 'string'; readonly value: string };

export const attr = {
  int: (value: number): Attribute => ({ kind: 'int', value }),
  ints: (value: readonly number[]): Attribute => ({ kind: 'ints', value }),
  float: (value: number): Attribute => ({ kind: 'float', value }),
  floats: (value: readonly number[]): Attribute => ({ kind: 'floats', value }),
  string: (value: string): Attribute => ({ kind: 'string', value }),
};

export type TensorData = Float32Array | Uint8Array | Int8Array | Int32Array | BigInt64Array | readonly number[];

export interface GraphBuilderOptions {
  readonly name?: string;
  readonly irVersion?: number;
  readonly opsetVersion?: number;
  readonly producerName?: string;
  readonly docString?: string;
}

function toAttributeProto(name: string, a: Attribute): AttributeProto {
  switch (a.kind) {
    case 'int':
      if (!Number.isSafeInteger(a.value)) throw new Error(`attribute ${name}: ${a.value} is not an integer`);
      return { name, type: AttributeType.INT, i: a.value };
    case 'ints':
      return { name, type: AttributeType.INTS, ints: [...a.value] };
    case 'float':
      return { name, type: AttributeType.FLOAT, f: a.value };
    case 'floats':
      return { name, type: AttributeType.FLOATS, floats: [...a.value] };
    case 'string':
      return { name, type: AttributeType.STRING, s: new TextEncoder().encode(a.value) };
  }
}

/** Little-endian bytes whatever the host order, since raw_data is defined as little-endian. */
function rawBytes(type: ElementType, data: TensorData, count: number): Uint8Array {
  if (data.length !== count) throw new Error(`tensor has ${data.length} values, its dims need ${count}`);
  const out = new Uint8Array(count * bytesPerElement[type]);
  const view = new DataView(out.buffer);
  for (let i = 0; i < count; i++) {
    const v = data[i];
    switch (type) {
      case 'float32':
        view.setFloat32(i * 4, Number(v), true);
        break;
      case 'uint8':
        view.setUint8(i, checkedInt(v, 0, 255));
        break;
      case 'int8':
        view.setInt8(i, checkedInt(v, -128, 127));
        break;
      case 'int32':
        view.setInt32(i * 4, checkedInt(v, -(2 ** 31), 2 ** 31 - 1), true);
        break;
      case 'int64':
        view.setBigInt64(i * 8, typeof v === 'bigint' ? v : BigInt(checkedInt(v, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)), true);
        break;
    }
  }
  return out;
}

function checkedInt(v: number | bigint, min: number, max: number): number {
  const n = Number(v);
  // A silent wrap-around in a quantized weight would corrupt the model without any error later.
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${String(v)} is not an integer in [${min}, ${max}]`);
  return n;
}

function valueInfo(name: string, type: ElementType, shape: readonly number[]): ValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType: dataTypeOf[type], shape: { dim: shape.map((d) => ({ dimValue: d })) } } },
  };
}

export class GraphBuilder {
  private readonly nodes: NodeProto[] = [];
  private readonly initializers: TensorProto[] = [];
  private readonly inputs: ValueInfoProto[] = [];
  private readonly outputs: ValueInfoProto[] = [];
  private readonly names = new Set<string>();
  private nodeCount = 0;
  private readonly options: Required<Omit<GraphBuilderOptions, 'docString'>> & { docString?: string };

  constructor(options: GraphBuilderOptions = {}) {
    this.options = {
      name: options.name ?? 'graph',
      irVersion: options.irVersion ?? 8,
      opsetVersion: options.opsetVersion ?? 17,
      producerName: options.producerName ?? 'embody',
      docString: options.docString,
    };
  }

  private claim(name: string): string {
    if (this.names.has(name)) throw new Error(`duplicate tensor name '${name}'`);
    this.names.add(name);
    return name;
  }

  addInput(name: string, type: ElementType, shape: readonly number[]): string {
    this.inputs.push(valueInfo(this.claim(name), type, shape));
    return name;
  }

  /** Declares an existing tensor (a node's output) as a graph output. */
  addOutput(name: string, type: ElementType, shape: readonly number[]): string {
    this.outputs.push(valueInfo(name, type, shape));
    return name;
  }

  addInitializer(name: string, type: ElementType, dims: readonly number[], data: TensorData): string {
    const count = dims.reduce((a, b) => a * b, 1);
    this.initializers.push({ name: this.claim(name), dataType: dataTypeOf[type], dims: [...dims], rawData: rawBytes(type, data, count) });
    return name;
  }

  float(name: string, dims: readonly number[], data: Float32Array | readonly number[]): string {
    return this.addInitializer(name, 'float32', dims, data);
  }

  int8(name: string, dims: readonly number[], data: Int8Array | readonly number[]): string {
    return this.addInitializer(name, 'int8', dims, data);
  }

  uint8(name: string, dims: readonly number[], data: Uint8Array | readonly number[]): string {
    return this.addInitializer(name, 'uint8', dims, data);
  }

  int32(name: string, dims: readonly number[], data: Int32Array | readonly number[]): string {
    return this.addInitializer(name, 'int32', dims, data);
  }

  int64(name: string, dims: readonly number[], data: BigInt64Array | readonly number[]): string {
    return this.addInitializer(name, 'int64', dims, data);
  }

  /**
   * Adds a node. `outputs` are the names of the tensors it produces; returns them so a call can
   * feed the next one. An empty input name is ONNX's way to skip an optional input.
   */
  addNode(
    opType: string,
    inputs: readonly string[],
    outputs: readonly string[],
    attributes: Record<string, Attribute> = {},
    options: { name?: string; domain?: string } = {},
  ): string[] {
    for (const o of outputs) this.claim(o);
    const node: NodeProto = {
      opType,
      name: options.name ?? `${opType}_${this.nodeCount}`,
      input: [...inputs],
      output: [...outputs],
      attribute: Object.entries(attributes).map(([k, v]) => toAttributeProto(k, v)),
    };
    if (options.domain !== undefined) node.domain = options.domain;
    this.nodeCount++;
    this.nodes.push(node);
    return [...outputs];
  }

  /** Single-output shorthand for addNode. */
  op(opType: string, inputs: readonly string[], output: string, attributes: Record<string, Attribute> = {}): string {
    return this.addNode(opType, inputs, [output], attributes)[0];
  }

  toModel(): ModelProto {
    const { name, irVersion, opsetVersion, producerName, docString } = this.options;
    const model: ModelProto = {
      irVersion,
      opsetImport: [{ domain: '', version: opsetVersion }],
      producerName,
      graph: {
        name,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    };
    if (docString !== undefined) model.docString = docString;
    return model;
  }

  build(): Uint8Array {
    return encodeModel(this.toModel());
  }
}
