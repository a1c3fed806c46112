import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Liquid } from 'liquidjs';
import {
  checkTemplate,
  RenderBudget,
  renderStrings,
  renderTemplate,
  templateScope,
  TemplateError,
  type TemplateScope,
} from '../../src/domain/templates.js';

/** A budget no template of these tests comes near. */
const roomy = () => new RenderBudget({ maxLength: 1_000_000, overflowReason: 'too long' });
const render = (text: string, scope: TemplateScope) => renderTemplate(text, scope, roomy());

const scope = templateScope({
  attributeValues: { promo_code: 'SUMMER25', tags: 'attribute named tags', user_id: 'attribute named user_id' },
  tags: { City: 'London', Age: 42, Premium: true, Interests: ['cars', 'golf'] },
  userId: 'user-123',
});

describe('renderTemplate', () => {
  it('reads attribute values, the user tags and the user id', () => {
    assert.equal(render('Hi {{ user_id }} from {{ tags.City }}, use {{ promo_code }}', scope), 'Hi user-123 from London, use SUMMER25');
  });

  it('lets tags and user_id win over attributes of the same name', () => {
    assert.equal(render('{{ user_id }}|{{ tags.City }}', scope), 'user-123|London');
  });

  it('renders a missing attribute or tag as empty text', () => {
    assert.equal(render('[{{ tags.Nope }}][{{ nope }}][{{ nope.deeper.still }}]', scope), '[][][]');
  });

  it('formats numbers and booleans as Liquid does', () => {
    assert.equal(render('{{ tags.Age }} {{ tags.Premium }}', scope), '42 true');
  });

  it('applies filters and tags', () => {
    assert.equal(render('{{ promo_code | downcase }}', scope), 'summer25');
    assert.equal(render('{{ tags.Nope | default: "friend" }}', scope), 'friend');
    assert.equal(render('{{ tags.Interests | join: ", " }}', scope), 'cars, golf');
    assert.equal(render('{% if tags.Age > 40 %}senior{% else %}junior{% endif %}', scope), 'senior');
    assert.equal(render('{{ tags.City | json }}', scope), '"London"');
  });

  it('prints dates in UTC whatever the server time zone', () => {
    assert.equal(render('{{ 0 | date: "%Y-%m-%d %H:%M" }}', scope), '1970-01-01 00:00');
  });

  it('does not expose prototype properties', () => {
    assert.equal(render('[{{ tags.constructor }}][{{ tags.__proto__ }}]', scope), '[][]');
  });

  it('throws a TemplateError for a syntax error', () => {
    assert.throws(() => render('{{ promo_code ', scope), TemplateError);
  });

  it('throws a TemplateError when a render exceeds the memory limit', () => {
    assert.throws(
      () => render('{% for i in (1..100000000) %}{{ promo_code }}{% endfor %}', scope),
      (error: unknown) => error instanceof TemplateError && /limit/.test(error.message),
    );
  });

  it('renders the same template for many scopes (the cache keeps one parse)', () => {
    const template = 'Code {{ promo_code }} for {{ user_id }}';
    for (let i = 0; i < 1000; i++) {
      const runScope = templateScope({ attributeValues: { promo_code: `P${i}` }, tags: {}, userId: `u${i}` });
      assert.equal(render(template, runScope), `Code P${i} for u${i}`);
    }
  });
});

describe('checkTemplate', () => {
  it('accepts valid templates', () => {
    assert.equal(checkTemplate('plain text'), undefined);
    assert.equal(checkTemplate('{{ tags.City | upcase }} {% if x %}y{% endif %}'), undefined);
  });

  it('reports unclosed outputs and tags with their position', () => {
    assert.match(checkTemplate('Hello {{ name') ?? '', /not closed, line:1, col:7/);
    assert.match(checkTemplate('{% if x %}never closed') ?? '', /not closed/);
  });

  it('rejects unknown filters', () => {
    assert.match(checkTemplate('{{ promo_code | shout }}') ?? '', /undefined filter: shout/);
  });

  it('rejects file-system tags', () => {
    for (const tag of ['{% include "secrets" %}', '{% render "x" %}', '{% layout "x" %}']) {
      assert.match(checkTemplate(tag) ?? '', /tag "\w+" not found/, tag);
    }
  });
});

describe('the interpolation shortcut renders exactly as Liquid', () => {
  const reference = new Liquid({
    strictFilters: true,
    strictVariables: false,
    ownPropertyOnly: true,
    templates: {},
    timezoneOffset: 0,
    locale: 'en-US',
  });
  const names = ['promo_code', 'tags', 'user_id', 'City', 'size', 'first', 'last', 'nil', 'empty', 'x'];
  const path = fc.array(fc.constantFrom(...names), { minLength: 1, maxLength: 3 }).map((p) => p.join('.'));
  const piece = fc.oneof(
    fc.constantFrom('', ' ', 'Hi ', '}}', '{', '}', '-', '\n'),
    path.map((p) => `{{ ${p} }}`),
    path.map((p) => `{{${p}}}`),
  );
  const template = fc.array(piece, { maxLength: 6 }).map((parts) => parts.join(''));
  const leaf = fc.oneof(
    fc.string(),
    fc.integer(),
    fc.double({ noNaN: false }),
    fc.boolean(),
    fc.constant(null),
    fc.array(fc.string(), { maxLength: 3 }),
  );
  const value = fc.oneof(leaf, fc.dictionary(fc.constantFrom(...names), leaf, { maxKeys: 4, noNullPrototype: true }));
  const scopes = fc.record({
    attributes: fc.dictionary(fc.constantFrom(...names), fc.string(), { maxKeys: 4, noNullPrototype: true }),
    tags: fc.dictionary(fc.constantFrom(...names), value, { maxKeys: 4, noNullPrototype: true }),
    userId: fc.string(),
  });

  it('for any template made of text and variable paths, on any scope', () => {
    fc.assert(
      fc.property(template, scopes, (text, s) => {
        const runScope: TemplateScope = { ...s.attributes, tags: s.tags, user_id: s.userId };
        let expected: string;
        try {
          expected = String(reference.parseAndRenderSync(text, runScope));
        } catch {
          assert.throws(() => render(text, runScope), TemplateError);
          return;
        }
        assert.equal(render(text, runScope), expected);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('renderStrings', () => {
  it('renders every string inside a JSON value and keeps the rest', () => {
    const data = { deep_link: 'app://promo/{{ promo_code }}', n: 3, list: ['{{ user_id }}', true], none: null };
    assert.deepEqual(renderStrings(data, scope, roomy()), {
      deep_link: 'app://promo/SUMMER25',
      n: 3,
      list: ['user-123', true],
      none: null,
    });
  });
});

describe('checkTemplate, the journey start check', () => {
  it('accepts Liquid without file access or unknown filters', () => {
    const accepted = [
      'plain',
      '{{ promo_code }}',
      '{{ tags.City | upcase | default: "x" }}',
      '{% if a %}b{% elsif c %}d{% else %}e{% endif %}',
      '{% for i in (1..3) %}{{ i }}{% endfor %}',
      '{% capture x %}y{% endcapture %}{{ x }}',
      '{% raw %}{{ not rendered }}{% endraw %}',
      '{% block b %}kept{% endblock %}',
      '{{ "}}" }}',
    ];
    for (const sample of accepted) assert.equal(checkTemplate(sample), undefined, sample);
  });

  it('refuses syntax errors, unknown filters and tags, and the partial tags that would read files', () => {
    const refused = [
      '{{ a | nope }}',
      '{{ a ',
      '{% if a %}',
      '{% include "x" %}',
      '{% render "x" %}',
      '{% layout "x" %}',
      '{% unknown_tag %}',
    ];
    for (const sample of refused) assert.equal(typeof checkTemplate(sample), 'string', sample);
  });
});
