/** Contract: domains, users, credentials, addresses, aliases, resolveAddress. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isStoreError } from '../errors.js';
import { CREDS, makeUser, putMessage } from './fixtures.js';
import type { ContractContext } from './suite.js';

const code = (c: string) => (e: unknown) => isStoreError(e, c as never);

export function accountsContract(t: ContractContext): void {
  describe('domains', () => {
    it('are stored lower-case without a trailing dot, listed and found case-insensitively', async () => {
      const s = t.store();
      const d = await s.addDomain('Domains-One.EXAMPLE.');
      assert.equal(d.name, 'domains-one.example');
      assert.ok(d.createdAt instanceof Date);
      assert.equal((await s.getDomain('DOMAINS-one.example'))?.id, d.id);
      assert.ok((await s.listDomains()).some((x) => x.id === d.id));
      assert.equal(await s.getDomain('missing.example'), null);
      await assert.rejects(s.addDomain('domains-one.example'), code('exists'));
      await assert.rejects(s.addDomain('not a domain'), code('invalid'));
    });

    it('removeDomain refuses while in use, force removes users and aliases', async () => {
      const s = t.store();
      const u = await makeUser(s, { domain: 'domains-two.example' });
      await s.addAlias('postmaster@domains-two.example', [u.address]);
      await assert.rejects(s.removeDomain('domains-two.example'), code('inUse'));
      await s.removeDomain('domains-two.example', { force: true });
      assert.equal(await s.getDomain('domains-two.example'), null);
      assert.equal(await s.getUser(u.id), null);
      assert.deepEqual(await s.listAliases('domains-two.example').catch(() => []), []);
      assert.equal((await s.resolveAddress(u.address)).kind, 'none');
      await s.addDomain('domains-three.example');
      await s.removeDomain('domains-three.example');
      await assert.rejects(s.removeDomain('domains-three.example'), code('notFound'));
    });
  });

  describe('users', () => {
    it('addUser creates the primary address, INBOX and the special-use mailboxes, subscribed', async () => {
      const s = t.store();
      await s.addDomain('users-one.example');
      const u = await s.addUser({
        login: 'Alice',
        address: 'Alice@Users-One.Example',
        displayName: 'Alice A.',
        quota: 1000,
        credentials: CREDS,
      });
      assert.equal(u.login, 'alice');
      assert.equal(u.address, 'alice@users-one.example');
      assert.equal(u.displayName, 'Alice A.');
      assert.equal(u.quota, 1000);
      assert.equal(u.enabled, true);
      assert.equal(u.isAdmin, false);
      assert.deepEqual(u.forwardTo, []);
      assert.equal(u.keepCopy, false);
      const boxes = await s.listMailboxes(u.id);
      const byName = new Map(boxes.map((b) => [b.name, b]));
      assert.deepEqual([...byName.keys()].sort(), ['Drafts', 'INBOX', 'Junk', 'Sent', 'Trash']);
      assert.equal(boxes[0]!.name, 'INBOX', 'INBOX is listed first');
      assert.equal(byName.get('INBOX')!.specialUse, null);
      assert.equal(byName.get('Sent')!.specialUse, '\\Sent');
      assert.equal(byName.get('Drafts')!.specialUse, '\\Drafts');
      assert.equal(byName.get('Trash')!.specialUse, '\\Trash');
      assert.equal(byName.get('Junk')!.specialUse, '\\Junk');
      for (const b of boxes) {
        assert.equal(b.uidNext, 1);
        assert.ok(b.uidValidity > 0 && b.uidValidity < 2 ** 32);
        assert.ok(b.highestModseq >= 1);
      }
      assert.equal(new Set(boxes.map((b) => b.uidValidity)).size, boxes.length, 'UIDVALIDITY differs between mailboxes');
      assert.deepEqual((await s.listSubscriptions(u.id)).sort(), ['Drafts', 'INBOX', 'Junk', 'Sent', 'Trash']);
      assert.deepEqual(await s.listAddresses(u.id), ['alice@users-one.example']);
      assert.deepEqual((await s.getCredentials(u.id))!, { userId: u.id, ...CREDS });
      assert.equal((await s.getUserByLogin('ALICE'))?.id, u.id);
      assert.equal((await s.getUser(u.id))?.address, u.address);
      assert.equal(await s.getUser(999999), null);
      assert.equal(await s.getUserByLogin('nobody'), null);
    });

    it('logins and addresses are unique; the domain must exist', async () => {
      const s = t.store();
      await s.addDomain('users-two.example');
      await s.addUser({ login: 'bob', address: 'bob@users-two.example', credentials: CREDS });
      await assert.rejects(s.addUser({ login: 'BOB', address: 'other@users-two.example', credentials: CREDS }), code('exists'));
      await assert.rejects(s.addUser({ login: 'bob2', address: 'BOB@users-two.example', credentials: CREDS }), code('exists'));
      await assert.rejects(s.addUser({ login: 'carol', address: 'carol@nowhere.example', credentials: CREDS }), code('notFound'));
      await assert.rejects(s.addUser({ login: 'carol', address: 'no-at-sign', credentials: CREDS }), code('invalid'));
      // A failed addUser leaves nothing behind.
      assert.equal(await s.getUserByLogin('bob2'), null);
      assert.equal(await s.getUserByLogin('carol'), null);
      assert.deepEqual(
        (await s.listUsers('users-two.example')).map((u) => u.login),
        ['bob'],
      );
    });

    it('listUsers by domain, updateUser, setCredentials', async () => {
      const s = t.store();
      const a = await makeUser(s, { domain: 'users-three.example' });
      const b = await makeUser(s, { domain: 'users-three.example' });
      const other = await makeUser(s);
      const ids = (await s.listUsers('USERS-three.example')).map((u) => u.id).sort();
      assert.deepEqual(ids, [a.id, b.id].sort());
      assert.ok((await s.listUsers()).some((u) => u.id === other.id));
      const u2 = await s.updateUser(a.id, { displayName: 'A', quota: 5000, enabled: false, isAdmin: true, forwardTo: ['Fwd@Elsewhere.example'], keepCopy: true });
      assert.equal(u2.displayName, 'A');
      assert.equal(u2.quota, 5000);
      assert.equal(u2.enabled, false);
      assert.equal(u2.isAdmin, true);
      assert.deepEqual(u2.forwardTo, ['fwd@elsewhere.example']);
      assert.equal(u2.keepCopy, true);
      const u3 = await s.updateUser(a.id, { enabled: true });
      assert.equal(u3.enabled, true);
      assert.equal(u3.quota, 5000, 'fields not in the patch stay');
      assert.deepEqual(await s.getUser(a.id), u3);
      await assert.rejects(s.updateUser(987654, { quota: 1 }), code('notFound'));
      await s.setCredentials(a.id, { passwordHash: 'new', scramSha256: '4096$s$k$v', sealedSecret: 'sealed' });
      assert.deepEqual(await s.getCredentials(a.id), { userId: a.id, passwordHash: 'new', scramSha256: '4096$s$k$v', sealedSecret: 'sealed' });
      assert.equal(await s.getCredentials(987654), null);
    });

    it('removeUser removes mailboxes, messages, addresses and releases blobs', async () => {
      const s = t.store();
      const u = await makeUser(s);
      await s.addAddress(u.id, `extra-${u.id}@${u.address.split('@')[1]}`);
      const m = await putMessage(s, { subject: 'to be removed with user' });
      const [out] = await s.deliver(m.blob, m.index, [{ userId: u.id }]);
      assert.equal(out!.ok, true);
      await s.removeUser(u.id);
      assert.equal(await s.getUser(u.id), null);
      assert.deepEqual(await s.listMailboxes(u.id), []);
      assert.equal((await s.resolveAddress(u.address)).kind, 'none');
      assert.equal(await s.getCredentials(u.id), null);
      await s.collectGarbage(0);
      assert.equal(await s.blobs.has(m.blob.id), false, 'the blob went with its last reference');
      await assert.rejects(s.removeUser(u.id), code('notFound'));
    });
  });

  describe('addresses and aliases', () => {
    it('resolveAddress: user address, extra address, alias, catch-all, none', async () => {
      const s = t.store();
      const u = await makeUser(s, { domain: 'addr-one.example', local: 'ann' });
      await s.addAddress(u.id, 'Ann.Other@ADDR-one.example');
      await s.addAlias('Team@addr-one.example', ['ann@addr-one.example', 'Ext@Remote.example']);
      const r1 = await s.resolveAddress('ANN@addr-one.example');
      assert.equal(r1.kind, 'user');
      assert.equal(r1.kind === 'user' && r1.user.id, u.id);
      assert.equal(r1.kind === 'user' && r1.address, 'ann@addr-one.example');
      const r2 = await s.resolveAddress('ann.other@addr-one.example');
      assert.equal(r2.kind === 'user' && r2.user.id, u.id);
      const r3 = await s.resolveAddress('team@Addr-One.example');
      assert.equal(r3.kind, 'alias');
      assert.deepEqual(r3.kind === 'alias' && r3.alias.targets, ['ann@addr-one.example', 'ext@remote.example']);
      assert.equal((await s.resolveAddress('nobody@addr-one.example')).kind, 'none');
      await s.addAlias('@addr-one.example', ['ann@addr-one.example']);
      const r4 = await s.resolveAddress('nobody@addr-one.example');
      assert.equal(r4.kind === 'alias' && r4.alias.address, '@addr-one.example');
      assert.equal(r4.kind === 'alias' && r4.address, 'nobody@addr-one.example');
      // Exact entries win over the catch-all; no sub-address stripping in the store.
      assert.equal((await s.resolveAddress('ann@addr-one.example')).kind, 'user');
      assert.equal((await s.resolveAddress('ann+tag@other-domain.example')).kind, 'none');
      assert.equal((await s.resolveAddress('garbage')).kind, 'none');
      assert.deepEqual(await s.listAddresses(u.id), ['ann@addr-one.example', 'ann.other@addr-one.example']);
      assert.deepEqual((await s.listAliases('addr-one.example')).map((a) => a.address), ['@addr-one.example', 'team@addr-one.example']);
    });

    it('an address belongs to one user or alias; primary addresses stay', async () => {
      const s = t.store();
      const u = await makeUser(s, { domain: 'addr-two.example', local: 'x' });
      const v = await makeUser(s, { domain: 'addr-two.example', local: 'y' });
      await assert.rejects(s.addAddress(v.id, 'X@addr-two.example'), code('exists'));
      await assert.rejects(s.addAlias('x@addr-two.example', ['y@addr-two.example']), code('exists'));
      await s.addAlias('list@addr-two.example', ['x@addr-two.example']);
      await assert.rejects(s.addAddress(v.id, 'list@addr-two.example'), code('exists'));
      await assert.rejects(s.addAlias('list@addr-two.example', ['y@addr-two.example']), code('exists'));
      await assert.rejects(s.addAddress(v.id, 'y2@unknown-domain.example'), code('notFound'));
      await assert.rejects(s.addAlias('z@addr-two.example', []), code('invalid'));
      await assert.rejects(s.removeAddress(u.address), code('invalid'));
      await s.addAddress(u.id, 'x2@addr-two.example');
      await s.removeAddress('X2@addr-two.example');
      assert.equal((await s.resolveAddress('x2@addr-two.example')).kind, 'none');
      await assert.rejects(s.removeAddress('x2@addr-two.example'), code('notFound'));
      await s.removeAlias('LIST@addr-two.example');
      assert.equal((await s.resolveAddress('list@addr-two.example')).kind, 'none');
      await assert.rejects(s.removeAlias('list@addr-two.example'), code('notFound'));
      assert.ok((await s.listAliases()).every((a) => a.address !== 'list@addr-two.example'));
    });
  });
}
