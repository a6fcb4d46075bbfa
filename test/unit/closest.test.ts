import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closestName, editDistance } from '../../src/core/closest.js';

test('edit distance counts insertions, deletions, substitutions and neighbour swaps', () => {
  assert.equal(editDistance('copy', 'copy'), 0);
  assert.equal(editDistance('copie', 'copy'), 2);
  assert.equal(editDistance('cpoy', 'copy'), 1);
  assert.equal(editDistance('', 'abc'), 3);
  assert.equal(editDistance('segmets', 'segments'), 1);
});

test('the closest name is suggested only when it looks like a typo', () => {
  const commands = ['copy', 'scan', 'describe', 'diff-tables', 'diff-record', 'restore'];
  assert.equal(closestName('copie', commands), 'copy');
  assert.equal(closestName('difftables', commands), 'diff-tables');
  assert.equal(closestName('restroe', commands), 'restore');
  assert.equal(closestName('launch-rockets', commands), undefined);
  assert.equal(closestName('x', commands), undefined);
});
