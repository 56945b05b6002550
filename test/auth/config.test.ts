/** The authorization block and no_auth_user read as nats-server reads them, with its error texts. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nkeys } from 'nats';
import { assertAuthConsistent } from '../../src/auth/config.js';
import { parseFlags } from '../../src/config/flags.js';
import { confReader } from '../helpers/conf.js';

const { load, problems } = confReader('a.conf');

test('token, single user, timeout in seconds', () => {
  assert.deepEqual(load('authorization { token: s3cr3t, timeout: 1.5 }').options, {
    authorization: { token: 's3cr3t', user: '', password: '', users: [] },
    authTimeout: 1500,
  });
  assert.deepEqual(load('authorization { username: derek, pass: T0p }').options.authorization, { token: '', user: 'derek', password: 'T0p', users: [] });
});

test('users with permissions in every form nats-server takes; default_permissions for users without their own', () => {
  const pub = nkeys.createUser().getPublicKey();
  const options = load(`
    authorization {
      default_permissions { publish: "public.>" }
      users = [
        { user: a, password: b, permissions: { publish: ["x", "y.*"], subscribe: { allow: "z.> q", deny: ["z.secret"] } } }
        { user: c, password: d }
        { nkey: ${pub}, permissions: { allow_responses: { max: 3, expires: "5s" } } }
        { user: e, password: f, permissions: { allow_responses: true } }
      ]
    }
    no_auth_user: c`).options;
  assert.equal(options.noAuthUser, 'c');
  const users = options.authorization!.users;
  assert.deepEqual(users[0].permissions, {
    publish: { allow: ['x', 'y.*'], deny: null },
    subscribe: { allow: ['z.> q'], deny: ['z.secret'] },
    response: null,
  });
  assert.deepEqual(users[1].permissions, { publish: { allow: ['public.>'], deny: null }, subscribe: null, response: null });
  assert.equal(users[2].nkey, pub);
  // Response permissions alone turn off publishing anything else (an empty allow list).
  assert.deepEqual(users[2].permissions, { publish: { allow: [], deny: null }, subscribe: null, response: { maxMsgs: 3, expires: 5000 } });
  assert.deepEqual(users[3].permissions!.response, { maxMsgs: 1, expires: 120_000 });
});

test('mistakes get nats-server\'s texts at their place', () => {
  assert.deepEqual(problems('authorization { user: a, password: b, users = [ {user: c, password: d} ] }'), [
    'a.conf:1:1: Can not have a single user/pass and a users array',
  ]);
  assert.deepEqual(problems('authorization { token: t, users = [ {user: c, password: d} ] }'), ['a.conf:1:1: Can not have a token and a users array']);
  assert.deepEqual(problems('authorization { users = [ {nkey: UABC} ] }'), ['a.conf:1:28: Not a valid public nkey for a user']);
  assert.deepEqual(problems('authorization { users = [ {password: d} ] }'), ['a.conf:1:28: User entry requires a user']);
  assert.deepEqual(problems('authorization { foo: 1 }'), ['a.conf:1:17: unknown field "foo"']);
  assert.deepEqual(problems('authorization { users = [ {user: a, bad: 1} ] }'), ['a.conf:1:37: unknown field "bad"']);
  assert.deepEqual(problems('authorization { users = [ {user: a, permissions: { publish: { allow: "foo..bar" } } } ] }'), [
    'a.conf:1:63: subject "foo..bar" is not a valid subject',
  ]);
  assert.deepEqual(problems('authorization { users = [ {user: a, permissions: { publish: { alow: "foo" } } } ] }'), [
    `a.conf:1:63: Unknown field name "alow" parsing subject permissions, only 'allow' or 'deny' are permitted`,
  ]);
  assert.deepEqual(problems('authorization { users = [ {user: a, permissions: { pubx: "foo" } } ] }'), ['a.conf:1:52: Unknown field "pubx" parsing permissions']);
});

test('no_auth_user and single users are checked against the users list at startup, as nats-server does', () => {
  const users = [{ user: 'a', password: 'b', nkey: '', permissions: null }];
  assert.doesNotThrow(() => assertAuthConsistent({ authorization: { token: '', user: '', password: '', users }, noAuthUser: 'a' }));
  assert.throws(
    () => assertAuthConsistent({ authorization: { token: '', user: '', password: '', users }, noAuthUser: 'zz' }),
    /^Error: no_auth_user: "zz" not present as user in authorization block or account configuration$/,
  );
  assert.throws(() => assertAuthConsistent({ authorization: null, noAuthUser: 'a' }), /no_auth_user: "a" present, but users are not defined/);
  assert.throws(
    () => assertAuthConsistent({ authorization: { token: '', user: 'x', password: 'y', users }, noAuthUser: '' }),
    /Can not have a single user\/pass and a users array/,
  );
});

test('--user/--pass and --auth flags set the authorization', () => {
  const result = parseFlags(['--user', 'u', '--pass', 'p']);
  assert.equal(result.kind, 'run');
  assert.deepEqual(result.kind === 'run' && result.options.authorization, { token: '', user: 'u', password: 'p', users: [] });
  const token = parseFlags(['-auth=t0k']);
  assert.deepEqual(token.kind === 'run' && token.options.authorization, { token: 't0k', user: '', password: '', users: [] });
});
