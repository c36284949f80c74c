/**
 * The part of onnx.proto (https://github.com/onnx/onnx/blob/main/onnx/onnx.proto) that a
 * feed-forward inference graph needs, declared with protobufjs reflection so writing a model
 * needs neither Python nor generated code. Field numbers are the spec's; they are the file
 * format, so they must never be renumbered. Fields we never write (sparse tensors, functions,
 * training info, ...) are left out: a decoder skips unknown fields, so reading a model that
 * uses them still works, they are just not reported.
 */
import protobuf from 'protobufjs';

/** TensorProto.DataType values used here. */
export const DataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  INT32: 6,
  INT64: 7,
} as const;
export type DataTypeCode = (typeof DataType)[keyof typeof DataType];

/** AttributeProto.AttributeType values used here. */
export const AttributeType = {
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  FLOATS: 6,
  INTS: 7,
} as const;

export interface TensorProto {
  dims?: number[];
  dataType?: number;
  name?: string;
  rawData?: Uint8Array;
  floatData?: number[];
  int32Data?: number[];
  int64Data?: number[];
  docString?: string;
}

export interface AttributeProto {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: TensorProto;
  floats?: number[];
  ints?: number[];
  docString?: string;
}

export interface NodeProto {
  input?: string[];
  output?: string[];
  name?: string;
  opType: string;
  domain?: string;
  attribute?: AttributeProto[];
  docString?: string;
}

export interface TensorShapeDimension {
  dimValue?: number;
  dimParam?: string;
}

export interface TypeProto {
  tensorType?: { elemType: number; shape?: { dim?: TensorShapeDimension[] } };
}

export interface ValueInfoProto {
  name: string;
  type?: TypeProto;
  docString?: string;
}

export interface GraphProto {
  node?: NodeProto[];
  name?: string;
  initializer?: TensorProto[];
  docString?: string;
  input?: ValueInfoProto[];
  output?: ValueInfoProto[];
  valueInfo?: ValueInfoProto[];
}

export interface OperatorSetIdProto {
  domain?: string;
  version: number;
}

export interface ModelProto {
  irVersion?: number;
  opsetImport?: OperatorSetIdProto[];
  producerName?: string;
  producerVersion?: string;
  domain?: string;
  modelVersion?: number;
  docString?: string;
  graph?: GraphProto;
  metadataProps?: { key?: string; value?: string }[];
}

type Fields = Record<string, { id: number; type: string; rule?: 'repeated'; options?: Record<string, boolean> }>;

// onnx.proto marks only TensorProto's data arrays [packed = true]; dims, ints and floats are
// plain proto2 repeated fields. Parsers accept either form, but following the spec keeps the
// bytes the same as the reference protobuf implementation would write.
const unpacked = { packed: false };

const messages: Record<string, protobuf.IType> = {
  AttributeProto: {
    fields: {
      name: { id: 1, type: 'string' },
      refAttrName: { id: 21, type: 'string' },
      docString: { id: 13, type: 'string' },
      type: { id: 20, type: 'int32' },
      f: { id: 2, type: 'float' },
      i: { id: 3, type: 'int64' },
      s: { id: 4, type: 'bytes' },
      t: { id: 5, type: 'TensorProto' },
      g: { id: 6, type: 'GraphProto' },
      floats: { id: 7, type: 'float', rule: 'repeated', options: unpacked },
      ints: { id: 8, type: 'int64', rule: 'repeated', options: unpacked },
      strings: { id: 9, type: 'bytes', rule: 'repeated' },
      tensors: { id: 10, type: 'TensorProto', rule: 'repeated' },
      graphs: { id: 11, type: 'GraphProto', rule: 'repeated' },
    } satisfies Fields,
  },
  ValueInfoProto: {
    fields: {
      name: { id: 1, type: 'string' },
      type: { id: 2, type: 'TypeProto' },
      docString: { id: 3, type: 'string' },
    } satisfies Fields,
  },
  NodeProto: {
    fields: {
      input: { id: 1, type: 'string', rule: 'repeated' },
      output: { id: 2, type: 'string', rule: 'repeated' },
      name: { id: 3, type: 'string' },
      opType: { id: 4, type: 'string' },
      domain: { id: 7, type: 'string' },
      attribute: { id: 5, type: 'AttributeProto', rule: 'repeated' },
      docString: { id: 6, type: 'string' },
    } satisfies Fields,
  },
  StringStringEntryProto: {
    fields: {
      key: { id: 1, type: 'string' },
      value: { id: 2, type: 'string' },
    } satisfies Fields,
  },
  OperatorSetIdProto: {
    fields: {
      domain: { id: 1, type: 'string' },
      version: { id: 2, type: 'int64' },
    } satisfies Fields,
  },
  ModelProto: {
    fields: {
      irVersion: { id: 1, type: 'int64' },
      opsetImport: { id: 8, type: 'OperatorSetIdProto', rule: 'repeated' },
      producerName: { id: 2, type: 'string' },
      producerVersion: { id: 3, type: 'string' },
      domain: { id: 4, type: 'string' },
      modelVersion: { id: 5, type: 'int64' },
      docString: { id: 6, type: 'string' },
      graph: { id: 7, type: 'GraphProto' },
      metadataProps: { id: 14, type: 'StringStringEntryProto', rule: 'repeated' },
    } satisfies Fields,
  },
  GraphProto: {
    fields: {
      node: { id: 1, type: 'NodeProto', rule: 'repeated' },
      name: { id: 2, type: 'string' },
      initializer: { id: 5, type: 'TensorProto', rule: 'repeated' },
      docString: { id: 10, type: 'string' },
      input: { id: 11, type: 'ValueInfoProto', rule: 'repeated' },
      output: { id: 12, type: 'ValueInfoProto', rule: 'repeated' },
      valueInfo: { id: 13, type: 'ValueInfoProto', rule: 'repeated' },
    } satisfies Fields,
  },
  TensorProto: {
    fields: {
      dims: { id: 1, type: 'int64', rule: 'repeated', options: unpacked },
      dataType: { id: 2, type: 'int32' },
      floatData: { id: 4, type: 'float', rule: 'repeated', options: { packed: true } },
      int32Data: { id: 5, type: 'int32', rule: 'repeated', options: { packed: true } },
      stringData: { id: 6, type: 'bytes', rule: 'repeated' },
      int64Data: { id: 7, type: 'int64', rule: 'repeated', options: { packed: true } },
      name: { id: 8, type: 'string' },
      docString: { id: 12, type: 'string' },
      rawData: { id: 9, type: 'bytes' },
      doubleData: { id: 10, type: 'double', rule: 'repeated', options: { packed: true } },
      uint64Data: { id: 11, type: 'uint64', rule: 'repeated', options: { packed: true } },
    } satisfies Fields,
  },
  TensorShapeProto: {
    fields: {
      dim: { id: 1, type: 'Dimension', rule: 'repeated' },
    } satisfies Fields,
    nested: {
      Dimension: {
        oneofs: { value: { oneof: ['dimValue', 'dimParam'] } },
        fields: {
          dimValue: { id: 1, type: 'int64' },
          dimParam: { id: 2, type: 'string' },
          denotation: { id: 3, type: 'string' },
        } satisfies Fields,
      },
    },
  },
  TypeProto: {
    oneofs: { value: { oneof: ['tensorType'] } },
    fields: {
      tensorType: { id: 1, type: 'Tensor' },
      denotation: { id: 6, type: 'string' },
    } satisfies Fields,
    nested: {
      Tensor: {
        fields: {
          elemType: { id: 1, type: 'int32' },
          shape: { id: 2, type: 'TensorShapeProto' },
        } satisfies Fields,
      },
    },
  },
};

// protobufjs treats a JSON descriptor without an edition as proto3 (implicit presence), which
// would silently drop every zero-valued scalar, e.g. an `axis: 0` attribute or a zero dim.
// onnx.proto is proto2: a set field is written even when it holds its default.
const onnxDescriptor: protobuf.INamespace = {
  nested: { onnx: { nested: Object.fromEntries(Object.entries(messages).map(([name, type]) => [name, { ...type, edition: 'proto2' }])) } },
};

let modelType: protobuf.Type | undefined;

function getModelType(): protobuf.Type {
  // Resolved lazily so importing the writer costs nothing for callers that never write a model.
  modelType ??= protobuf.Root.fromJSON(onnxDescriptor).lookupType('onnx.ModelProto');
  return modelType;
}

/** Serialises a model to the bytes of a .onnx file. */
export function encodeModel(model: ModelProto): Uint8Array {
  const type = getModelType();
  const problem = type.verify(model);
  if (problem !== null) throw new Error(`invalid ONNX ModelProto: ${problem}`);
  return type.encode(type.fromObject(model)).finish();
}

/**
 * Parses .onnx bytes into plain objects (int64 as numbers, bytes as Uint8Array) so tests can
 * inspect what was written, or what onnxruntime saved as its optimised graph.
 */
export function decodeModel(bytes: Uint8Array): ModelProto {
  const type = getModelType();
  return type.toObject(type.decode(bytes), { longs: Number }) as ModelProto;
}
