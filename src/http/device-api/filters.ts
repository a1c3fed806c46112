import { Type } from '@sinclair/typebox';
import { parseSeglang, SeglangError } from '../../domain/seglang/index.js';
import { badRequest } from '../errors.js';
import { deviceApiMethod } from './method.js';

const FILTER_NAME_MAX_LENGTH = 255;

/**
 * Saves a seglang expression under a name. The expression must parse and its
 * values must fit the application's declared tag types now; tags not declared
 * yet are allowed (they match nothing until they are).
 */
export const createFilter = deviceApiMethod({
  name: 'createFilter',
  summary: 'Save a seglang filter under a name',
  fields: {
    name: Type.String({ minLength: 1, maxLength: FILTER_NAME_MAX_LENGTH }),
    // Its length is one of the seglang limits, which every filter is held to.
    filter_expression: Type.String({ minLength: 1 }),
  },
  async handle({ request, application, store }) {
    try {
      await store.audience.compile(application.id, parseSeglang(request.filter_expression));
    } catch (error) {
      if (error instanceof SeglangError) throw badRequest(`request.filter_expression: ${error.message}`);
      throw error;
    }
    if (!(await store.filters.create(application.id, request.name, request.filter_expression))) {
      throw badRequest(`request.name: a filter named "${request.name}" already exists`);
    }
    return { name: request.name };
  },
});

/** The application's named filters, oldest first: `{"filters": [{"name", "expression", "created_at"}]}`. */
export const listFilters = deviceApiMethod({
  name: 'listFilters',
  summary: 'List the saved filters',
  fields: {},
  async handle({ application, store }) {
    const filters = await store.filters.list(application.id);
    return {
      filters: filters.map((filter) => ({
        name: filter.name,
        expression: filter.expression,
        created_at: new Date(filter.createdAt).toISOString(),
      })),
    };
  },
});
