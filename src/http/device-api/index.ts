import { Type } from '@sinclair/typebox';
import { HttpError } from '../errors.js';
import { jsonBodyParser } from '../json-body.js';
import type { App, AppDeps } from '../app.js';
import { registerDevice, registerUser, unregisterDevice } from './devices.js';
import { ErrorEnvelopeSchema, replyWithErrorEnvelope } from './envelope.js';
import { postEvent } from './events.js';
import { DEVICE_API_PREFIX, DEVICE_API_TAGS, type DeviceApiRoute } from './method.js';
import { errorReplies } from '../openapi.js';
import { addTag, getTags, listTags, setTags } from './tags.js';
import { createFilter, listFilters } from './filters.js';

export { deviceApiMethod, DEVICE_API_PREFIX, type DeviceApiCall, type DeviceApiRoute } from './method.js';
export { ARGUMENT_ERROR, okEnvelope } from './envelope.js';

/** Every Device API method; a new method is one `deviceApiMethod(...)` added here (see docs/device-api.md). */
const METHODS: readonly DeviceApiRoute[] = [
  registerDevice,
  unregisterDevice,
  registerUser,
  setTags,
  getTags,
  addTag,
  listTags,
  postEvent,
  createFilter,
  listFilters,
];

/** `POST /json/1.3/<method>` (docs/device-api.md). */
export async function deviceApiRoutes(app: App, deps: AppDeps): Promise<void> {
  // Pushwoosh's Web SDK posts its JSON as `text/plain;charset=UTF-8` (a request browsers send without a CORS preflight).
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser('text/plain', { parseAs: 'string' }, jsonBodyParser(app));
  for (const register of METHODS) register(app, deps);
  // Static method routes win over this parametric one, whichever plugin registered them.
  app.post(
    `${DEVICE_API_PREFIX}/:method`,
    {
      schema: {
        tags: DEVICE_API_TAGS,
        summary: 'Any other method name: 404 in the error envelope',
        params: Type.Object({ method: Type.String() }),
        response: errorReplies([404], ErrorEnvelopeSchema),
      },
      errorHandler: replyWithErrorEnvelope,
    },
    async (request) => {
      throw new HttpError(404, `unknown Device API method "${request.params.method}"`);
    },
  );
}
