// Small image-folder datasets generated in the test itself (no files shipped, nothing fetched):
// PNG images drawn per class, packed as a .tar.gz the way users archive `train/<class>/*`.
import { deflateSync, gzipSync } from "node:zlib";

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** An RGB PNG of `side`×`side` whose colour and stripes depend on `cls`, varied by `i`. */
export function png(side: number, cls: number, i: number): Buffer {
  const rows: Buffer[] = [];
  for (let y = 0; y < side; y++) {
    const row = Buffer.alloc(1 + side * 3);
    for (let x = 0; x < side; x++) {
      const stripe = (cls === 0 ? x : cls === 1 ? y : x + y) % 4 < 2;
      const base = stripe ? 200 : 40;
      row[1 + x * 3] = (base + 17 * cls + 3 * i) % 256;
      row[2 + x * 3] = (base * (cls + 1) + 5 * i) % 256;
      row[3 + x * 3] = (255 - base + 11 * cls) % 256;
    }
    rows.push(row);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(side, 0);
  ihdr.writeUInt32BE(side, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(Buffer.concat(rows))),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

/** A ustar archive of (path, bytes) regular files, written as given (hostile names included). */
export function tar(files: [string, Buffer][]): Buffer {
  const parts: Buffer[] = [];
  for (const [name, data] of files) {
    const h = Buffer.alloc(512);
    h.write(name, 0, 100, "utf8");
    h.write("0000644\0", 100);
    h.write("0000000\0", 108);
    h.write("0000000\0", 116);
    h.write(data.length.toString(8).padStart(11, "0") + "\0", 124);
    h.write("00000000000\0", 136);
    h.write("        ", 148);
    h.write("0", 156);
    h.write("ustar\0", 257);
    h.write("00", 263);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(sum.toString(8).padStart(6, "0") + "\0 ", 148);
    parts.push(h, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

/** `train/<class>/*.png` and `test/<class>/*.png` for three classes, as a .tar.gz. */
export function imageFolderArchive(perClass: number, side = 8, extra: [string, Buffer][] = []): Buffer {
  const classes = ["circles", "squares", "stars"];
  const files: [string, Buffer][] = [];
  for (const split of ["train", "test"]) {
    classes.forEach((c, ci) => {
      for (let i = 0; i < perClass; i++) files.push([`${split}/${c}/img${i}.png`, png(side, ci, i + (split === "test" ? 100 : 0))]);
    });
  }
  return gzipSync(tar([...files, ...extra]));
}
