// pngSize: the width and height of a PNG from its header, and a clear error for anything else.
import { pngSize } from '../src/browser.js';

function pngHeader(width: number, height: number): Buffer {
  const header = Buffer.alloc(33);
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(header, 0);
  header.writeUInt32BE(13, 8);
  header.write('IHDR', 12, 'latin1');
  header.writeUInt32BE(width, 16);
  header.writeUInt32BE(height, 20);
  return header;
}

test('reads width and height from the IHDR chunk', () => {
  expect(pngSize(pngHeader(1280, 2000))).toEqual({ width: 1280, height: 2000, bytes: 33 });
});

test('anything but a PNG is refused', () => {
  expect(() => pngSize(Buffer.from('<html>not an image</html>'))).toThrow('not a PNG image');
  const noHeader = pngHeader(1, 1);
  noHeader.write('IDAT', 12, 'latin1');
  expect(() => pngSize(noHeader)).toThrow('a PNG without its IHDR chunk');
});
