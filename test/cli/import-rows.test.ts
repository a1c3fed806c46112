import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PlainProgress } from '../../src/cli/import-progress.js';
import { CsvRowReader, ImportFileError, inferCsvValue, parseNdjsonRow, type TagCatalog } from '../../src/cli/import-rows.js';
import { TagType } from '../../src/domain/tags.js';

const catalog: TagCatalog = new Map([
  ['Age', { id: 1, name: 'Age', type: TagType.Integer }],
  ['Labels', { id: 2, name: 'Labels', type: TagType.List }],
  ['Seen', { id: 3, name: 'Seen', type: TagType.Date }],
]);

describe('import rows: NDJSON', () => {
  it('accepts a row with declared tags and encodes each value', () => {
    const parsed = parseNdjsonRow(
      '{"hwid":"h","device_type":3,"userId":"u","tags":{"Age":"42","Labels":["x","x","y"],"Seen":null}}',
      catalog,
    );
    assert.equal(parsed.kind, 'accepted');
    if (parsed.kind !== 'accepted') return;
    assert.equal(parsed.device.userId, 'u');
    assert.deepEqual(parsed.tags, [
      { tagId: 1, values: [{ column: 'int_value', value: 42 }] },
      {
        tagId: 2,
        values: [
          { column: 'text_value', value: 'x' },
          { column: 'text_value', value: 'y' },
        ],
      },
      { tagId: 3, values: [] },
    ]);
  });

  it('asks for undeclared tags to be declared, with their sample values, only when the row is valid', () => {
    const parsed = parseNdjsonRow('{"hwid":"h","device_type":3,"tags":{"Age":1,"City":"Paris","Gone":null}}', catalog);
    assert.deepEqual(parsed, { kind: 'undeclared', samples: new Map([['City', 'Paris']]) });
    const invalid = parseNdjsonRow('{"hwid":"h","device_type":3,"tags":{"Age":"x","City":"Paris"}}', catalog);
    assert.equal(invalid.kind, 'rejected');
  });

  const rejections: [string, string][] = [
    ['{"hwid":"h","device_type":3,"tags":[]}', 'tags must be an object'],
    ['{"hwid":"h","device_type":3,"tags":{"":"x"}}', 'tag names must not be empty'],
    ['{"hwid":"h","device_type":3,"tags":{"City":{"a":1}}}', 'tag "City" is String; {"a":1} is not a string'],
    ['{"hwid":"h","device_type":3,"tags":{"Labels":"a"}}', 'tag "Labels" is List; "a" is not a list of strings'],
    ['{"hwid":"h","device_type":"3"}', 'device_type must be one of 1, 3, 7, 8, 9, 10, 11, 12, 14, 17, 18, 19, 21; got "3"'],
    ['{"device_type":3}', 'hwid is required and must be a non-empty string'],
    ['"just a string"', 'each line must be a JSON object'],
    ['{"hwid":"h","device_type":3,"city":"x"}', 'unknown field "city"; tags go in the "tags" object'],
    ['{"hwid":"h\\ud800","device_type":3}', 'hwid contains a lone UTF-16 surrogate'],
    ['{"hwid":"h","device_type":3,"tags":{"City":"a\\u0000"}}', 'tag "City" value contains a NUL character'],
    ['{"hwid":"h","device_type":3,"tags":{"Labels":["\\udfff"]}}', 'tag "Labels" value contains a lone UTF-16 surrogate'],
    ['{"hwid":"h","device_type":3,"tags":{"Ci\\ud800":"x"}}', 'tag name "Ci\\ud800" contains a lone UTF-16 surrogate'],
  ];
  for (const [line, reason] of rejections) {
    it(`rejects ${line}`, () => {
      assert.deepEqual(parseNdjsonRow(line, catalog), { kind: 'rejected', reason });
    });
  }

  it('reports device field errors before tag errors', () => {
    assert.deepEqual(parseNdjsonRow('{"hwid":"","device_type":3,"tags":{"Age":"x"}}', catalog), {
      kind: 'rejected',
      reason: 'hwid is required and must be a non-empty string',
    });
  });
});

describe('import rows: CSV', () => {
  it('infers undeclared tag values from their text', () => {
    const cases: [string, unknown][] = [
      ['true', true],
      ['false', false],
      ['42', 42],
      ['-7', -7],
      ['007', '007'],
      ['12345678901234567890', '12345678901234567890'],
      ['0.5', 0.5],
      ['1e3', '1e3'],
      ['["a","b"]', ['a', 'b']],
      ['[1,2]', '[1,2]'],
      ['2024-05-01', '2024-05-01'],
      ['TRUE', 'TRUE'],
    ];
    for (const [cell, expected] of cases) assert.deepEqual(inferCsvValue(cell), expected, cell);
  });

  it('reads device columns by name, skips empty cells and reads declared tags by their type', () => {
    const reader = CsvRowReader.fromHeader(['Labels', 'device_type', 'hwid', 'timezone', 'Age', 'Seen']);
    const parsed = reader.parse(['["a"]', '3', 'h-1', '-3600', '', '2024-05-01 08:30'], catalog);
    assert.equal(parsed.kind, 'accepted');
    if (parsed.kind !== 'accepted') return;
    assert.deepEqual(parsed.device, {
      hwid: 'h-1',
      userId: undefined,
      deviceType: 3,
      pushToken: undefined,
      language: undefined,
      timezone: -3600,
    });
    assert.deepEqual(parsed.tags, [
      { tagId: 2, values: [{ column: 'text_value', value: 'a' }] },
      { tagId: 3, values: [{ column: 'int_value', value: 1714552200 }] },
    ]);
  });

  it('rejects a declared List cell that is not a JSON array of strings', () => {
    const reader = CsvRowReader.fromHeader(['hwid', 'device_type', 'Labels']);
    assert.deepEqual(reader.parse(['h', '3', 'a,b'], catalog), {
      kind: 'rejected',
      reason: 'tag "Labels" is List; "a,b" is not a list of strings',
    });
  });

  it('refuses a header it cannot import by', () => {
    assert.throws(() => CsvRowReader.fromHeader(['hwid', 'City']), new ImportFileError('the header has no "device_type" column'));
    assert.throws(
      () => CsvRowReader.fromHeader(['userId', 'City']),
      new ImportFileError('the header has no "hwid" or "device_type" column'),
    );
    assert.throws(
      () => CsvRowReader.fromHeader(['hwid', 'device_type', 'City', 'City']),
      new ImportFileError('the header names column "City" twice'),
    );
    assert.throws(
      () => CsvRowReader.fromHeader(['hwid', 'device_type', '']),
      new ImportFileError('header column 3: tag names must not be empty'),
    );
  });
});

describe('import progress without a terminal', () => {
  it('prints one line per interval with rows, share of the file, rate and an ETA from bytes read', () => {
    let now = 1_000_000;
    const lines: string[] = [];
    const progress = new PlainProgress(
      (text) => lines.push(text),
      1000,
      () => now,
      5000,
    );
    now += 1000;
    progress.update(10_000, 100);
    assert.deepEqual(lines, []);
    now += 4000;
    progress.update(50_000, 250);
    assert.deepEqual(lines, ['importing: 50,000 rows, 25% of the file, 10,000 rows/s, ETA 15s\n']);
  });
});
