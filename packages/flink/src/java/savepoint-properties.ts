import { JavaDataOutput } from '../io/java-output.js';

/**
 * Writes the Java serialization of Flink's CheckpointProperties for a user-triggered savepoint
 * (SavepointType "Savepoint", formatType CANONICAL or NATIVE, post-checkpoint action NONE, forced,
 * nothing discarded), as ObjectOutputStream does: class descriptors with their serialVersionUIDs,
 * fields in ObjectStreamClass order (primitives, then objects, each by name), back references for
 * repeated descriptors. This is what `_metadata` V4+ ends with.
 */
const TC_NULL = 0x70;
const TC_REFERENCE = 0x71;
const TC_CLASSDESC = 0x72;
const TC_OBJECT = 0x73;
const TC_STRING = 0x74;
const TC_ENDBLOCKDATA = 0x78;
const TC_ENUM = 0x7e;
const SC_SERIALIZABLE = 0x02;
const SC_ENUM = 0x10;
const BASE_HANDLE = 0x7e0000;

class JavaObjectWriter {
  readonly out = new JavaDataOutput(1024);
  private next = 0;
  private readonly enumDescHandle = new Map<string, number>();

  constructor() {
    this.out.writeShort(0xaced);
    this.out.writeShort(5);
  }

  private assign(): number {
    return this.next++;
  }

  string(s: string): void {
    this.out.writeByte(TC_STRING);
    this.assign();
    this.out.writeUTF(s);
  }

  classDesc(name: string, suid: bigint, flags: number, fields: readonly (readonly [string, string, string?])[], superDesc: () => void): void {
    this.out.writeByte(TC_CLASSDESC);
    this.out.writeUTF(name);
    this.out.writeLong(suid);
    this.assign();
    this.out.writeByte(flags);
    this.out.writeShort(fields.length);
    for (const [type, fname, sig] of fields) {
      this.out.writeByte(type.charCodeAt(0));
      this.out.writeUTF(fname);
      if (sig !== undefined) this.string(sig);
    }
    this.out.writeByte(TC_ENDBLOCKDATA);
    superDesc();
  }

  /** An enum constant: its class descriptor (java.lang.Enum as super, shared by reference), then its name. */
  enumConstant(enumClass: string, constant: string): void {
    this.out.writeByte(TC_ENUM);
    this.classDesc(enumClass, 0n, SC_SERIALIZABLE | SC_ENUM, [], () => {
      const h = this.enumDescHandle.get('java.lang.Enum');
      if (h !== undefined) {
        this.out.writeByte(TC_REFERENCE);
        this.out.writeInt(BASE_HANDLE + h);
        return;
      }
      this.enumDescHandle.set('java.lang.Enum', this.next);
      this.classDesc('java.lang.Enum', 0n, SC_SERIALIZABLE | SC_ENUM, [], () => this.out.writeByte(TC_NULL));
    });
    this.assign();
    this.string(constant);
  }

  nullRef(): void {
    this.out.writeByte(TC_NULL);
  }

  objectStart(): void {
    this.out.writeByte(TC_OBJECT);
  }

  objectHandle(): void {
    this.assign();
  }
}

export function canonicalSavepointProperties(formatType: 'CANONICAL' | 'NATIVE' = 'CANONICAL'): Uint8Array {
  const w = new JavaObjectWriter();
  w.objectStart();
  const flags = ['discardCancelled', 'discardFailed', 'discardFinished', 'discardSubsumed', 'discardSuspended', 'forced', 'unclaimed'];
  w.classDesc(
    'org.apache.flink.runtime.checkpoint.CheckpointProperties',
    2n,
    SC_SERIALIZABLE,
    [...flags.map((f) => ['Z', f] as const), ['L', 'checkpointType', 'Lorg/apache/flink/runtime/checkpoint/SnapshotType;'] as const],
    () => w.nullRef(),
  );
  w.objectHandle();
  for (const f of flags) w.out.writeBoolean(f === 'forced');
  w.objectStart();
  w.classDesc(
    'org.apache.flink.runtime.checkpoint.SavepointType',
    -6879297871714708296n,
    SC_SERIALIZABLE,
    [
      ['L', 'formatType', 'Lorg/apache/flink/core/execution/SavepointFormatType;'],
      ['L', 'name', 'Ljava/lang/String;'],
      ['L', 'postCheckpointAction', 'Lorg/apache/flink/runtime/checkpoint/SavepointType$PostCheckpointAction;'],
    ],
    () => w.nullRef(),
  );
  w.objectHandle();
  w.enumConstant('org.apache.flink.core.execution.SavepointFormatType', formatType);
  w.string('Savepoint');
  w.enumConstant('org.apache.flink.runtime.checkpoint.SavepointType$PostCheckpointAction', 'NONE');
  return w.out.toBytes();
}
