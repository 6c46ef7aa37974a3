import { ConfigError, parseEnv, serviceEnv } from '../src/index.js';

const valid = {
  SERVICE: 'catalog',
  MONGODB_URI: 'mongodb://u:p@db:27017/mp-acme',
  AMQP_URL: 'amqp://u:p@mq:5672/mp-acme',
  JWT_PUBLIC_KEY: '-----BEGIN PUBLIC KEY-----\nabc\n-----END PUBLIC KEY-----',
  JWT_ISSUER: 'gorten/mp-acme',
  JWT_AUDIENCE: 'acme',
  CORS_ORIGINS: 'https://a.example.com, https://b.example.com',
};

test('a valid environment parses with defaults', () => {
  expect(parseEnv(serviceEnv, valid)).toMatchObject({
    HTTP_PORT: 8080,
    LOG_LEVEL: 'info',
    BODY_LIMIT_KB: 1024,
    CORS_ORIGINS: ['https://a.example.com', 'https://b.example.com'],
  });
});

test('missing and malformed variables are named, their values never shown', () => {
  const env = { ...valid, MONGODB_URI: 'postgres://u:s3cret@db/x', HTTP_PORT: 'eighty' } as Record<
    string,
    string
  >;
  delete env.JWT_ISSUER;
  let error: unknown;
  try {
    parseEnv(serviceEnv, env);
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(ConfigError);
  const message = (error as Error).message;
  expect(message).toContain('JWT_ISSUER: missing');
  expect(message).toContain('MONGODB_URI: must be a mongodb:// URL');
  expect(message).toContain('HTTP_PORT:');
  expect(message).not.toContain('s3cret');
});

test('the read cache is off by default; a REDIS_URL or key prefix that is not one is named, never shown', () => {
  expect(parseEnv(serviceEnv, valid)).toMatchObject({
    CACHE_TTL_SECONDS: 30,
    REDIS_TIMEOUT_MS: 250,
  });
  expect(parseEnv(serviceEnv, valid).REDIS_URL).toBeUndefined();
  expect(
    parseEnv(serviceEnv, {
      ...valid,
      REDIS_URL: 'redis://mp-acme:pw@redis:6379',
      REDIS_KEY_PREFIX: 'mp-acme:',
    }),
  ).toMatchObject({ REDIS_URL: 'redis://mp-acme:pw@redis:6379', REDIS_KEY_PREFIX: 'mp-acme:' });
  const bad = () =>
    parseEnv(serviceEnv, {
      ...valid,
      REDIS_URL: 'http://mp-acme:s3cret@redis:6379',
      REDIS_KEY_PREFIX: 'mp-acme',
    });
  expect(bad).toThrow(/REDIS_URL: must be a redis:\/\/ URL/);
  expect(bad).toThrow(/REDIS_KEY_PREFIX: must be a name ending in a colon/);
  expect(bad).not.toThrow(/s3cret/);
});
