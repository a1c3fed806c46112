import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { describeEachBackend } from '../support/backends.js';
import { startTestApp, TEST_APP_CODE, type TestContext } from '../support/app.js';

const APP = TEST_APP_CODE;

interface BadInput {
  readonly title: string;
  readonly method: string;
  /** The `request` object; ignored when `rawBody` is given. */
  readonly request?: Record<string, unknown>;
  readonly rawBody?: string;
  readonly headers?: Record<string, string>;
  readonly status: number;
  /** The reply's message must contain this: the field or tag at fault. */
  readonly names: string;
}

const dev = (fields: Record<string, unknown>) => ({ application: APP, hwid: 'new-device', device_type: 1, ...fields });
const known = (fields: Record<string, unknown>) => ({ application: APP, hwid: 'known', ...fields });

const BAD_INPUTS: readonly BadInput[] = [
  // Envelope and transport, on every method alike.
  { title: 'malformed JSON', method: 'registerDevice', rawBody: '{"request": {', status: 400, names: 'JSON' },
  { title: 'empty JSON body', method: 'setTags', rawBody: '', status: 400, names: 'Body cannot be empty' },
  { title: 'a JSON array body', method: 'getTags', rawBody: '[]', status: 400, names: 'body must be a JSON object' },
  { title: 'no request object', method: 'listTags', rawBody: '{"application": "TEST0-00001"}', status: 400, names: 'request is required' },
  { title: 'request not an object', method: 'listTags', rawBody: '{"request": "x"}', status: 400, names: 'request must be an object' },
  {
    title: 'a body over 8 MiB',
    method: 'registerDevice',
    rawBody: JSON.stringify({ request: dev({ tags: { Blob: 'x'.repeat(8 * 1024 * 1024) } }) }),
    status: 413,
    names: 'too large',
  },
  {
    title: 'a non-JSON content type',
    method: 'getTags',
    rawBody: '<request/>',
    headers: { 'content-type': 'application/xml' },
    status: 415,
    names: 'Unsupported Media Type',
  },
  { title: 'no token', method: 'registerDevice', request: dev({}), headers: { authorization: '' }, status: 401, names: 'Authorization' },
  {
    title: 'unknown token',
    method: 'registerDevice',
    request: dev({}),
    headers: { authorization: 'Api nope' },
    status: 401,
    names: 'unknown token',
  },
  { title: 'unknown method', method: 'deleteEverything', request: { application: APP }, status: 404, names: 'deleteEverything' },
  // The application, on every method alike.
  { title: 'missing application', method: 'listTags', request: {}, status: 400, names: 'request.application is required' },
  { title: 'malformed application', method: 'listTags', request: { application: 'test0-1' }, status: 400, names: 'request.application' },
  {
    title: 'unknown application',
    method: 'registerDevice',
    request: dev({ application: 'NOAPP-00000' }),
    status: 400,
    names: 'request.application',
  },
  // registerDevice
  {
    title: 'missing hwid',
    method: 'registerDevice',
    request: { application: APP, device_type: 1 },
    status: 400,
    names: 'request.hwid is required',
  },
  { title: 'hwid a number', method: 'registerDevice', request: dev({ hwid: 12 }), status: 400, names: 'request.hwid must be a string' },
  { title: 'empty hwid', method: 'registerDevice', request: dev({ hwid: '' }), status: 400, names: 'request.hwid must not be empty' },
  {
    title: 'missing device_type',
    method: 'registerDevice',
    request: { application: APP, hwid: 'h' },
    status: 400,
    names: 'request.device_type is required',
  },
  {
    title: 'unknown device_type',
    method: 'registerDevice',
    request: dev({ device_type: 2 }),
    status: 400,
    names: 'request.device_type must be one of',
  },
  {
    title: 'device_type a string',
    method: 'registerDevice',
    request: dev({ device_type: '1' }),
    status: 400,
    names: 'request.device_type must be an integer',
  },
  { title: 'timezone out of range', method: 'registerDevice', request: dev({ timezone: 90000 }), status: 400, names: 'request.timezone' },
  {
    title: 'timezone a string',
    method: 'registerDevice',
    request: dev({ timezone: '3600' }),
    status: 400,
    names: 'request.timezone must be an integer',
  },
  {
    title: 'timezone fractional',
    method: 'registerDevice',
    request: dev({ timezone: 1.5 }),
    status: 400,
    names: 'request.timezone must be an integer',
  },
  {
    title: 'language not a code',
    method: 'registerDevice',
    request: dev({ language: 'english!' }),
    status: 400,
    names: 'request.language',
  },
  { title: 'push_token a number', method: 'registerDevice', request: dev({ push_token: 5 }), status: 400, names: 'request.push_token' },
  { title: 'userId a number', method: 'registerDevice', request: dev({ userId: 5 }), status: 400, names: 'request.userId' },
  {
    title: 'tags not an object',
    method: 'registerDevice',
    request: dev({ tags: ['Age'] }),
    status: 400,
    names: 'request.tags must be an object',
  },
  {
    title: 'wrong type for a declared tag',
    method: 'registerDevice',
    request: dev({ tags: { Age: 'old' } }),
    status: 400,
    names: 'tag "Age" is Integer',
  },
  {
    title: 'a valid new tag beside an invalid one',
    method: 'registerDevice',
    request: dev({ tags: { BrandNew: 'ok', Age: 1.5 } }),
    status: 400,
    names: 'tag "Age"',
  },
  {
    title: 'an object for an undeclared tag',
    method: 'registerDevice',
    request: dev({ tags: { Shape: { a: 1 } } }),
    status: 400,
    names: 'tag "Shape"',
  },
  { title: 'an empty tag name', method: 'registerDevice', request: dev({ tags: { '': 1 } }), status: 400, names: 'tag name' },
  // unregisterDevice
  {
    title: 'unregister an unknown device',
    method: 'unregisterDevice',
    request: { application: APP, hwid: 'ghost' },
    status: 400,
    names: 'request.hwid "ghost"',
  },
  {
    title: 'unregister without hwid',
    method: 'unregisterDevice',
    request: { application: APP },
    status: 400,
    names: 'request.hwid is required',
  },
  // registerUser
  {
    title: 'registerUser on an unknown device without device_type',
    method: 'registerUser',
    request: { application: APP, hwid: 'ghost', userId: 'u' },
    status: 400,
    names: 'request.hwid "ghost"',
  },
  { title: 'registerUser userId a number', method: 'registerUser', request: known({ userId: 7 }), status: 400, names: 'request.userId' },
  {
    title: 'registerUser bad tz_offset',
    method: 'registerUser',
    request: known({ userId: 'u', tz_offset: -99999 }),
    status: 400,
    names: 'request.tz_offset',
  },
  {
    title: 'registerUser bad device_type',
    method: 'registerUser',
    request: known({ userId: 'u', device_type: 99 }),
    status: 400,
    names: 'request.device_type',
  },
  // setTags
  {
    title: 'setTags without hwid or userId',
    method: 'setTags',
    request: { application: APP, tags: { Age: 1 } },
    status: 400,
    names: 'request.hwid is required',
  },
  {
    title: 'setTags on an unknown device',
    method: 'setTags',
    request: { application: APP, hwid: 'ghost', tags: { NewOne: 1 } },
    status: 400,
    names: 'request.hwid "ghost"',
  },
  {
    title: 'setTags on an unknown user',
    method: 'setTags',
    request: { application: APP, userId: 'ghost', tags: { NewOne: 1 } },
    status: 400,
    names: 'request.userId "ghost"',
  },
  { title: 'setTags without tags', method: 'setTags', request: known({}), status: 400, names: 'request.tags is required' },
  {
    title: 'Integer tag given a fraction',
    method: 'setTags',
    request: known({ tags: { Age: 30.5 } }),
    status: 400,
    names: 'tag "Age" is Integer',
  },
  {
    title: 'String tag given a number',
    method: 'setTags',
    request: known({ tags: { City: 5 } }),
    status: 400,
    names: 'tag "City" is String',
  },
  {
    title: 'List tag given a string',
    method: 'setTags',
    request: known({ tags: { Interests: 'a' } }),
    status: 400,
    names: 'tag "Interests" is List',
  },
  {
    title: 'String tag value too long to index',
    method: 'setTags',
    request: known({ tags: { City: 'é'.repeat(600) } }),
    status: 400,
    names: 'tag "City" value is longer than 1024 bytes',
  },
  {
    title: 'undeclared tag with a value too long to index',
    method: 'setTags',
    request: known({ tags: { Essay: 'x'.repeat(3000) } }),
    status: 400,
    names: 'tag "Essay" value is longer than 1024 bytes',
  },
  {
    title: 'List tag element too long to index',
    method: 'setTags',
    request: known({ tags: { Interests: ['ok', 'y'.repeat(1025)] } }),
    status: 400,
    names: 'tag "Interests" value is longer than 1024 bytes',
  },
  {
    title: 'List tag given numbers',
    method: 'setTags',
    request: known({ tags: { Interests: [1, 2] } }),
    status: 400,
    names: 'tag "Interests" is List',
  },
  {
    title: 'Date tag given a bad date',
    method: 'setTags',
    request: known({ tags: { Birthday: '2024-13-01' } }),
    status: 400,
    names: 'tag "Birthday" is Date',
  },
  {
    title: 'Boolean tag given "yes"',
    method: 'setTags',
    request: known({ tags: { Premium: 'yes' } }),
    status: 400,
    names: 'tag "Premium" is Boolean',
  },
  {
    title: 'Decimal tag given text',
    method: 'setTags',
    request: known({ tags: { Balance: 'lots' } }),
    status: 400,
    names: 'tag "Balance" is Decimal',
  },
  {
    title: 'Version tag given text',
    method: 'setTags',
    request: known({ tags: { Build: '1.x' } }),
    status: 400,
    names: 'tag "Build" is Version',
  },
  {
    title: 'a list operation on a non-List tag',
    method: 'setTags',
    request: known({ tags: { City: { operation: 'append', value: ['x'] } } }),
    status: 400,
    names: 'tag "City" is String; list operations',
  },
  {
    title: 'an unknown list operation',
    method: 'setTags',
    request: known({ tags: { Interests: { operation: 'replace', value: ['x'] } } }),
    status: 400,
    names: 'tag "Interests": operation must be',
  },
  {
    title: 'a later bad tag after a valid change to an existing tag',
    method: 'setTags',
    request: known({ tags: { City: 'Paris', Interests: { operation: 'remove', value: ['a'] }, Age: 'x' } }),
    status: 400,
    names: 'tag "Age"',
  },
  // getTags
  {
    title: 'getTags of an unknown device',
    method: 'getTags',
    request: { application: APP, hwid: 'ghost' },
    status: 400,
    names: 'request.hwid "ghost"',
  },
  {
    title: 'getTags without hwid or userId',
    method: 'getTags',
    request: { application: APP },
    status: 400,
    names: 'request.hwid is required',
  },
  {
    title: 'getTags hwid a list',
    method: 'getTags',
    request: { application: APP, hwid: ['known'] },
    status: 400,
    names: 'request.hwid must be a string',
  },
  // postEvent
  { title: 'postEvent without event', method: 'postEvent', request: known({}), status: 400, names: 'request.event is required' },
  {
    title: 'postEvent with an empty event',
    method: 'postEvent',
    request: known({ event: '' }),
    status: 400,
    names: 'request.event must not be empty',
  },
  {
    title: 'postEvent event a number',
    method: 'postEvent',
    request: known({ event: 5 }),
    status: 400,
    names: 'request.event must be a string',
  },
  {
    title: 'postEvent attributes a list',
    method: 'postEvent',
    request: known({ event: 'E', attributes: [1] }),
    status: 400,
    names: 'request.attributes must be an object',
  },
  {
    title: 'postEvent nested attribute',
    method: 'postEvent',
    request: known({ event: 'E', attributes: { ok: 1, cart: { items: 2 } } }),
    status: 400,
    names: 'request.attributes.cart',
  },
  {
    title: 'postEvent timestampUTC a string',
    method: 'postEvent',
    request: known({ event: 'E', timestampUTC: 'now' }),
    status: 400,
    names: 'request.timestampUTC must be an integer',
  },
  {
    title: 'postEvent negative timestampUTC',
    method: 'postEvent',
    request: known({ event: 'E', timestampUTC: -1 }),
    status: 400,
    names: 'request.timestampUTC must be >= 0',
  },
  {
    title: 'postEvent for an unknown device',
    method: 'postEvent',
    request: { application: APP, hwid: 'ghost', event: 'E' },
    status: 400,
    names: 'request.hwid "ghost"',
  },
  {
    title: 'postEvent for an unknown user',
    method: 'postEvent',
    request: { application: APP, userId: 'ghost', event: 'E' },
    status: 400,
    names: 'request.userId "ghost"',
  },
  {
    title: 'postEvent without hwid or userId',
    method: 'postEvent',
    request: { application: APP, event: 'E' },
    status: 400,
    names: 'request.hwid is required',
  },
  // addTag
  { title: 'addTag without a tag', method: 'addTag', request: { application: APP }, status: 400, names: 'request.tag is required' },
  {
    title: 'addTag without a type',
    method: 'addTag',
    request: { application: APP, tag: { name: 'T' } },
    status: 400,
    names: 'request.tag.type is required',
  },
  {
    title: 'addTag with an unknown type',
    method: 'addTag',
    request: { application: APP, tag: { name: 'T', type: 9 } },
    status: 400,
    names: 'request.tag.type must be one of',
  },
  {
    title: 'addTag with an empty name',
    method: 'addTag',
    request: { application: APP, tag: { name: '', type: 2 } },
    status: 400,
    names: 'request.tag.name must not be empty',
  },
  {
    title: 'addTag retyping a declared tag',
    method: 'addTag',
    request: { application: APP, tag: { name: 'Age', type: 2 } },
    status: 400,
    names: 'request.tag.type: tag "Age" is already declared as Integer',
  },
];

describeEachBackend('Device API: bad inputs are refused with a message naming the field, and write nothing', (dialect) => {
  let ctx: TestContext;

  before(async () => {
    ctx = await startTestApp(dialect);
    const seed = async (method: string, request: Record<string, unknown>) => {
      const res = await ctx.request({ method: 'POST', url: `/json/1.3/${method}`, payload: { request } });
      assert.equal(res.statusCode, 200, `${method} seed: ${res.body}`);
    };
    await seed('addTag', { application: APP, tag: { name: 'Birthday', type: 4 } });
    await seed('addTag', { application: APP, tag: { name: 'Build', type: 7 } });
    await seed('registerDevice', {
      application: APP,
      hwid: 'known',
      device_type: 3,
      userId: 'known-user',
      tags: { Age: 30, City: 'London', Interests: ['a', 'b'], Premium: true, Balance: 1.5, Birthday: '2000-01-01 00:00', Build: '1.2' },
    });
    await seed('postEvent', { application: APP, hwid: 'known', event: 'Seeded' });
  });
  after(() => ctx.close());

  /** Every row a Device API call can write, in a stable order. */
  async function snapshot() {
    const db = ctx.store.backend.db;
    return {
      devices: await db.selectFrom('devices').selectAll().orderBy('id').execute(),
      tagDefinitions: await db.selectFrom('tag_definitions').selectAll().orderBy('id').execute(),
      deviceTags: await db
        .selectFrom('device_tags')
        .selectAll()
        .orderBy('device_id')
        .orderBy('tag_id')
        .orderBy('int_value')
        .orderBy('real_value')
        .orderBy('text_value')
        .execute(),
      events: await db.selectFrom('events').selectAll().orderBy('id').execute(),
    };
  }

  for (const input of BAD_INPUTS) {
    it(`${input.method}: ${input.title} → ${input.status}`, async () => {
      const before = await snapshot();
      const headers: Record<string, string> = {
        ...(input.rawBody !== undefined && { 'content-type': 'application/json' }),
        ...input.headers,
      };
      const res = await ctx.app.inject({
        method: 'POST',
        url: `/json/1.3/${input.method}`,
        payload: input.rawBody ?? { request: input.request },
        headers: { authorization: 'Api test-api-token', ...headers },
      });
      assert.equal(res.statusCode, input.status, res.body.slice(0, 500));
      const body = res.json();
      assert.equal(body.status_code, input.status === 400 ? 210 : input.status);
      assert.equal(body.code, body.status_code);
      assert.equal(body.status_message, body.message);
      assert.equal(body.response, null);
      assert.ok(body.message.includes(input.names), `message ${JSON.stringify(body.message)} should name ${JSON.stringify(input.names)}`);
      assert.deepEqual(await snapshot(), before, 'nothing was written');
    });
  }
});
