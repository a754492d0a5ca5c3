import { JavaDataInput } from '../io/java-input.js';

/**
 * A bounded reader of the Java Object Serialization Stream grammar (java.io.ObjectOutputStream,
 * protocol version 2). It builds a plain tree of what the stream says - class names, field values,
 * enum constants, block data - and never instantiates or looks up a class: reading is safe for
 * any input. Nesting, handles and array sizes are bounded by limits and by the bytes left.
 */
export type JavaPrimitive = number | bigint | boolean;
export type JavaValue = JavaPrimitive | string | null | JavaObject | JavaEnum | JavaArray | JavaClassRef | JavaBlock;

export interface JavaObject {
  readonly kind: 'object';
  readonly className: string;
  /** Field values by name, of every class of the hierarchy (a subclass field shadows a superclass one). */
  readonly fields: Record<string, JavaValue>;
  /** writeObject/externalizable annotations (block data and objects) in stream order. */
  readonly annotations: JavaValue[];
}
export interface JavaEnum {
  readonly kind: 'enum';
  readonly className: string;
  readonly constant: string;
}
export interface JavaArray {
  readonly kind: 'array';
  readonly className: string;
  readonly elements: JavaValue[];
}
export interface JavaClassRef {
  readonly kind: 'class';
  readonly className: string;
}
export interface JavaBlock {
  readonly kind: 'block';
  readonly data: Uint8Array;
}

export interface JavaFieldDesc {
  readonly type: string;
  readonly name: string;
  /** Object and array fields: the JVM type signature, e.g. `Ljava/lang/String;`. */
  readonly className?: string;
}
type FieldDesc = JavaFieldDesc;
/** A class descriptor as the stream declares it (what a writer must reproduce). */
export interface JavaClassDesc {
  readonly name: string;
  readonly suid: bigint;
  readonly flags: number;
  readonly fields: FieldDesc[];
  readonly superDesc: ClassDesc | null;
}
type ClassDesc = JavaClassDesc;

const STREAM_MAGIC = 0xaced;
const TC = {
  NULL: 0x70, REFERENCE: 0x71, CLASSDESC: 0x72, OBJECT: 0x73, STRING: 0x74, ARRAY: 0x75, CLASS: 0x76,
  BLOCKDATA: 0x77, ENDBLOCKDATA: 0x78, RESET: 0x79, BLOCKDATALONG: 0x7a, EXCEPTION: 0x7b, LONGSTRING: 0x7c,
  PROXYCLASSDESC: 0x7d, ENUM: 0x7e,
} as const;
const SC_WRITE_METHOD = 0x01;
const SC_SERIALIZABLE = 0x02;
const SC_EXTERNALIZABLE = 0x04;
const SC_BLOCK_DATA = 0x08;
const BASE_HANDLE = 0x7e0000;

export interface JavaStreamLimits {
  readonly maxDepth: number;
  readonly maxHandles: number;
}
const DEFAULT_LIMITS: JavaStreamLimits = { maxDepth: 64, maxHandles: 1 << 16 };

type Handle = ClassDesc | JavaValue;

class JavaStreamReader {
  private handles: Handle[] = [];
  readonly classes: ClassDesc[] = [];
  private depth = 0;
  constructor(
    private readonly input: JavaDataInput,
    private readonly limits: JavaStreamLimits,
  ) {}

  private newHandle(h: Handle): number {
    if (this.handles.length >= this.limits.maxHandles) this.input.fail(`more than ${this.limits.maxHandles} Java serialization handles`);
    this.handles.push(h);
    return this.handles.length - 1;
  }

  private enter(): void {
    if (++this.depth > this.limits.maxDepth) this.input.fail(`Java serialization nested deeper than ${this.limits.maxDepth}`);
  }

  private reference(): Handle {
    const at = this.input.position;
    const h = this.input.readInt() - BASE_HANDLE;
    if (h < 0 || h >= this.handles.length) this.input.fail(`invalid Java serialization back reference 0x${(h + BASE_HANDLE).toString(16)}`, at);
    return this.handles[h]!;
  }

  readContent(): JavaValue {
    this.enter();
    try {
      return this.readContentInner();
    } finally {
      this.depth--;
    }
  }

  private readContentInner(): JavaValue {
    let at = this.input.position;
    let tc = this.input.readUnsignedByte();
    // ObjectInputStream.readObject0 consumes any run of resets before the content they precede:
    // a loop, as a run may be as long as the input (one call per reset would overflow the stack).
    while (tc === TC.RESET) {
      this.handles = [];
      at = this.input.position;
      tc = this.input.readUnsignedByte();
    }
    switch (tc) {
      case TC.NULL:
        return null;
      case TC.REFERENCE: {
        const h = this.reference();
        if (isClassDesc(h)) this.input.fail('back reference to a class descriptor where an object was expected', at);
        return h;
      }
      case TC.STRING:
      case TC.LONGSTRING:
        return this.readStringBody(tc);
      case TC.OBJECT:
        return this.readObject();
      case TC.ENUM: {
        const desc = this.readClassDesc();
        const slot = this.newHandle(null);
        const constant = this.readContent();
        if (typeof constant !== 'string') this.input.fail('enum constant name is not a string', at);
        const e: JavaEnum = { kind: 'enum', className: desc?.name ?? '?', constant };
        this.handles[slot] = e;
        return e;
      }
      case TC.ARRAY:
        return this.readArray();
      case TC.CLASS: {
        const desc = this.readClassDesc();
        const c: JavaClassRef = { kind: 'class', className: desc?.name ?? '?' };
        this.newHandle(c);
        return c;
      }
      case TC.BLOCKDATA:
        return { kind: 'block', data: this.input.readBytes(this.input.readUnsignedByte()) };
      case TC.BLOCKDATALONG:
        return { kind: 'block', data: this.input.readBytes(this.input.readCount('block data length')) };
      case TC.CLASSDESC:
      case TC.PROXYCLASSDESC:
        this.input.position = at;
        this.readClassDesc();
        return null;
      case TC.EXCEPTION:
        return this.input.fail('Java serialization stream records an exception', at);
      default:
        return this.input.fail(`unknown Java serialization type code 0x${tc.toString(16)}`, at);
    }
  }

  private readStringBody(tc: number): string {
    const s = tc === TC.STRING ? this.input.readUTF() : this.readLongUtf();
    this.newHandle(s);
    return s;
  }

  private readLongUtf(): string {
    const n = this.input.readLongAsNumber('long string length');
    const sub = this.input.slice(n, 'long string');
    // Reuse the modified UTF-8 decoder through a 64 KiB-bounded path only when short enough.
    if (n > 0xffff) this.input.fail('long Java strings are not supported');
    const tmp = new Uint8Array(n + 2);
    tmp[0] = n >> 8;
    tmp[1] = n & 0xff;
    tmp.set(sub.readBytes(n), 2);
    return new JavaDataInput(tmp, this.input.file).readUTF();
  }

  private readClassDesc(): ClassDesc | null {
    this.enter();
    try {
      const at = this.input.position;
      const tc = this.input.readUnsignedByte();
      if (tc === TC.NULL) return null;
      if (tc === TC.REFERENCE) {
        const h = this.reference();
        if (!isClassDesc(h)) this.input.fail('back reference to a non-class descriptor', at);
        return h;
      }
      if (tc === TC.PROXYCLASSDESC) {
        const slot = this.newHandle(null);
        const n = this.input.readCount('proxy interfaces', 2);
        const names: string[] = [];
        for (let i = 0; i < n; i++) names.push(this.input.readUTF());
        this.skipAnnotations();
        const desc: ClassDesc = { name: `Proxy[${names.join(',')}]`, suid: 0n, flags: SC_SERIALIZABLE, fields: [], superDesc: this.readClassDesc() };
        this.handles[slot] = desc;
        return desc;
      }
      if (tc !== TC.CLASSDESC) this.input.fail(`expected a class descriptor, found type code 0x${tc.toString(16)}`, at);
      const name = this.input.readUTF();
      const suid = this.input.readLong();
      const slot = this.newHandle(null);
      const flags = this.input.readUnsignedByte();
      const nFields = this.input.readUnsignedShort();
      this.input.checkCount(nFields, 'number of fields', 3, this.input.position);
      const fields: FieldDesc[] = [];
      for (let i = 0; i < nFields; i++) {
        const type = String.fromCharCode(this.input.readUnsignedByte());
        const fname = this.input.readUTF();
        if (type === 'L' || type === '[') {
          const cn = this.readContent();
          if (typeof cn !== 'string') this.input.fail(`field '${fname}' has no class name`);
          fields.push({ type, name: fname, className: cn });
          continue;
        }
        if (!'BCDFIJSZ'.includes(type)) this.input.fail(`unknown field type '${type}' of field '${fname}'`);
        fields.push({ type, name: fname });
      }
      const partial: ClassDesc = { name, suid, flags, fields, superDesc: null };
      this.handles[slot] = partial;
      this.skipAnnotations();
      const desc: ClassDesc = { ...partial, superDesc: this.readClassDesc() };
      this.handles[slot] = desc;
      this.classes.push(desc);
      return desc;
    } finally {
      this.depth--;
    }
  }

  /** Reads contents up to TC_ENDBLOCKDATA. */
  private readAnnotations(): JavaValue[] {
    const out: JavaValue[] = [];
    for (;;) {
      if (this.input.remaining === 0) this.input.fail('unterminated Java serialization annotation');
      if (this.input.bytes[this.input.position] === TC.ENDBLOCKDATA) {
        this.input.skip(1);
        return out;
      }
      out.push(this.readContent());
    }
  }

  private skipAnnotations(): void {
    this.readAnnotations();
  }

  private readObject(): JavaObject {
    const desc = this.readClassDesc();
    if (desc === null) this.input.fail('object without class descriptor');
    const obj: JavaObject = { kind: 'object', className: desc.name, fields: {}, annotations: [] };
    this.newHandle(obj);
    const chain: ClassDesc[] = [];
    for (let d: ClassDesc | null = desc; d !== null; d = d.superDesc) {
      if (chain.length > this.limits.maxDepth) this.input.fail('class hierarchy too deep');
      chain.unshift(d);
    }
    for (const d of chain) this.readClassData(d, obj);
    return obj;
  }

  private readClassData(d: ClassDesc, obj: JavaObject): void {
    if ((d.flags & SC_EXTERNALIZABLE) !== 0) {
      if ((d.flags & SC_BLOCK_DATA) === 0) this.input.fail(`externalizable class '${d.name}' written with stream protocol 1 cannot be walked`);
      obj.annotations.push(...this.readAnnotations());
      return;
    }
    if ((d.flags & SC_SERIALIZABLE) === 0) return;
    for (const f of d.fields) obj.fields[f.name] = this.readFieldValue(f.type);
    if ((d.flags & SC_WRITE_METHOD) !== 0) obj.annotations.push(...this.readAnnotations());
  }

  private readFieldValue(type: string): JavaValue {
    const i = this.input;
    switch (type) {
      case 'B': return i.readByte();
      case 'C': return i.readChar();
      case 'D': return i.readDouble();
      case 'F': return i.readFloat();
      case 'I': return i.readInt();
      case 'J': return i.readLong();
      case 'S': return i.readShort();
      case 'Z': return i.readBoolean();
      default: return this.readContent();
    }
  }

  private readArray(): JavaArray {
    const desc = this.readClassDesc();
    if (desc === null) this.input.fail('array without class descriptor');
    const arr: JavaArray = { kind: 'array', className: desc.name, elements: [] };
    this.newHandle(arr);
    const n = this.input.readCount('array length');
    const elemType = desc.name.charAt(1);
    for (let k = 0; k < n; k++) arr.elements.push(this.readFieldValue(elemType === 'L' || elemType === '[' ? 'L' : elemType));
    return arr;
  }
}

function isClassDesc(h: Handle): h is ClassDesc {
  return typeof h === 'object' && h !== null && 'suid' in h;
}

/**
 * Reads one complete Java serialization stream (magic, version, contents until the input ends).
 * Returns the top-level contents. Fails with CorruptCheckpointError (file, offset) on anything
 * malformed, deeper than the limits, or larger than the input.
 */
export function readJavaSerializationStream(bytes: Uint8Array, file: string, baseOffset = 0, limits: JavaStreamLimits = DEFAULT_LIMITS): JavaValue[] {
  const input = new JavaDataInput(bytes, file, baseOffset);
  const magic = input.readUnsignedShort();
  if (magic !== STREAM_MAGIC) input.fail(`not a Java serialization stream (magic 0x${magic.toString(16)})`, 0);
  const version = input.readUnsignedShort();
  if (version !== 5) input.fail(`unsupported Java serialization stream version ${version}`, 2);
  const reader = new JavaStreamReader(input, limits);
  const out: JavaValue[] = [];
  while (input.remaining > 0) out.push(reader.readContent());
  lastClasses = reader.classes;
  return out;
}

let lastClasses: JavaClassDesc[] = [];
/** The class descriptors declared by the last stream `readJavaSerializationStream` read (diagnostics). */
export function lastJavaClassDescriptors(): readonly JavaClassDesc[] {
  return lastClasses;
}

/** Reads exactly one object of a Java serialization stream embedded in other data; returns it and its byte length. */
export function readEmbeddedJavaObject(input: JavaDataInput, limits: JavaStreamLimits = DEFAULT_LIMITS): JavaValue {
  const magic = input.readUnsignedShort();
  if (magic !== STREAM_MAGIC) input.fail(`not a Java serialization stream (magic 0x${magic.toString(16)})`, input.position - 2);
  const version = input.readUnsignedShort();
  if (version !== 5) input.fail(`unsupported Java serialization stream version ${version}`, input.position - 2);
  return new JavaStreamReader(input, limits).readContent();
}
