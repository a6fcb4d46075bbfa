import type { Item } from '../core/types.js';

/**
 * Varied items for demos and benchmarks: every value kind DynamoDB has, including the ones the old
 * tool lost — 38-digit and tiny numbers, binary and binary sets, empty strings, nested maps and
 * lists, string and number sets, attribute names such as `__proto__`. Deterministic: item i is
 * always the same.
 */
export function sampleItems(count: number, prefix = 'item'): Item[] {
  return Array.from({ length: count }, (_, i) => sampleItem(i, prefix));
}

export function sampleItem(i: number, prefix = 'item'): Item {
  const id = `${prefix}-${String(i).padStart(5, '0')}`;
  const bytes = Uint8Array.from({ length: 1 + (i % 16) }, (_, j) => (i * 31 + j * 7) % 256);
  switch (i % 5) {
    case 0:
      return {
        id: { S: id },
        big: { N: `${(i % 9) + 1}2345678901234567890123456789012345678`.slice(0, 38) },
        tiny: { N: `${(i % 9) + 1}E-130` },
        negative: { N: '-0.000000000000000000000000000000000001' },
      };
    case 1:
      return { id: { S: id }, blob: { B: bytes }, blobs: { BS: [bytes, Uint8Array.of(i % 256, 0, 255)] } };
    case 2:
      return {
        id: { S: id },
        tags: { SS: ['alpha', 'beta', `tag-${i % 7}`] },
        scores: { NS: ['1', '2.5', String(i), '99999999999999999999999999999999999999'] },
      };
    case 3:
      return {
        id: { S: id },
        profile: {
          M: {
            name: { S: `user ${i} — ünïcødé ✓` },
            empty: { S: '' },
            // Legal attribute names that plain JavaScript objects get wrong.
            ['__proto__']: { S: `prototype ${i}` },
            ['constructor']: { N: String(i) },
            history: {
              L: [{ N: String(i) }, { BOOL: i % 2 === 0 }, { NULL: true }, { M: { deep: { L: [] } } }],
            },
          },
        },
      };
    default:
      return { id: { S: id }, empty: { S: '' }, nothing: { B: new Uint8Array() }, flag: { BOOL: false } };
  }
}
