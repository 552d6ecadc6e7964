// Jialing consumer-page verifier. Re-checks, in the browser, with WebCrypto (SHA-256
// and Ed25519) over exactly the bytes jialing-core hashes and signs:
//  1. the chain's identity from the fingerprint in the scanned code (?chain=), never
//     from the node: the genesis header hashes to it, names the genesis validator set,
//     and each validator-set change since is a block certified by the set before it
//     with a state proof of the new set (jialing_core::chain_identity);
//  2. the lot's latest event: the transaction's path to tx_root, its receipt under
//     receipts_root saying it was applied, and the block's certificate;
//  3. the lot's current record (status, custodian, recall, hold) under a recent
//     certified block's state root (the sparse Merkle state proof), and how old that
//     block is.
// The same functions are checked against core/testdata/verify-vectors.json, which a
// core test checks against the Rust implementation.
(() => {
  'use strict';
  const hex = (s) => {
    if (typeof s !== 'string' || s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) throw new Error('not hex: ' + String(s).slice(0, 20));
    return Uint8Array.from((s.match(/../g) || []).map((x) => parseInt(x, 16)));
  };
  const toHex = (b) => Array.from(b).map((x) => x.toString(16).padStart(2, '0')).join('');
  const cat = (...a) => { const o = new Uint8Array(a.reduce((n, x) => n + x.length, 0)); let i = 0; for (const x of a) { o.set(x, i); i += x.length; } return o; };
  const u32 = (n) => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, n, true); return b; };
  const u64 = (n) => { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, BigInt(n), true); return b; };
  const enc = new TextEncoder();
  const str = (s) => { const e = enc.encode(s); return cat(u32(e.length), e); };
  const sha = async (b) => new Uint8Array(await crypto.subtle.digest('SHA-256', b));
  const eq = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

  /** Canonical (borsh) bytes of a block header. */
  const headerBytes = (h) => cat(str(h.chain_id), u64(h.height), u64(h.time_ms), hex(h.parent_hash), hex(h.history_root), hex(h.proposer), hex(h.tx_root), u32(h.tx_count), hex(h.state_root), hex(h.receipts_root), hex(h.validator_set_hash));
  const headerHash = async (h) => toHex(await sha(headerBytes(h)));
  /** Canonical bytes of a precommit for a block. */
  const voteBytes = (height, round, blockHash, validator) => cat(new Uint8Array([1]), u64(height), u32(round), new Uint8Array([1]), hex(blockHash), hex(validator));
  /** The bytes signed for `purpose` (3 = vote). */
  const signingBytes = (chain, purpose, digest) => cat(enc.encode('jialing/sig/v1\0'), str(chain), new Uint8Array([purpose]), digest);
  const validatorSetBytes = (vs) => cat(u32(vs.validators.length), ...vs.validators.map((v) => cat(hex(v.public_key), u64(v.power))));
  const leafHash = async (b) => sha(cat(new Uint8Array([0]), b));
  const nodeHash = async (l, r) => sha(cat(new Uint8Array([1]), l, r));

  /** RFC 9162 inclusion path from a leaf hash to `root` (hex); throws on failure. */
  const inclusion = async (leaf, inc, root, what) => {
    let f = inc.leaf_index, s = inc.tree_size - 1, x = leaf;
    if (!(f <= s)) throw new Error(what + ' position ' + f + ' is outside a tree of ' + inc.tree_size);
    for (const q of inc.path) {
      const y = hex(q);
      if (s === 0) throw new Error(what + ' Merkle path is too long');
      if ((f & 1) === 1 || f === s) { x = await nodeHash(y, x); if ((f & 1) === 0) { while ((f & 1) === 0 && f !== 0) { f >>= 1; s >>= 1; } } } else { x = await nodeHash(x, y); }
      f >>= 1; s >>= 1;
    }
    if (s !== 0 || toHex(x) !== root) throw new Error(what + ' Merkle path does not reach its root');
  };

  const bit = (h, d) => (h[d >> 3] & (0x80 >> (d & 7))) !== 0;
  /** Sparse Merkle state proof: under `root`, `key` holds `value` (bytes) or is absent (null). */
  const stateProof = async (root, key, value, p) => {
    const kh = await sha(key), sib = p.siblings, depth = sib.length;
    if (depth > 256) throw new Error('state proof deeper than 256 levels');
    const sl = (k, v) => sha(cat(new Uint8Array([0]), k, v));
    let h;
    if (p.terminal === 'Empty') {
      if (value !== null) throw new Error('the state proof shows the key absent');
      h = new Uint8Array(32);
    } else {
      const kk = hex(p.terminal.Leaf.key_hash), vh = hex(p.terminal.Leaf.value_hash);
      if (value !== null) {
        if (!eq(kk, kh)) throw new Error('the state proof ends in another key\'s leaf');
        if (!eq(vh, await sha(value))) throw new Error('the state value is not the one proven');
      } else {
        if (eq(kk, kh)) throw new Error('the key is present');
        for (let d = 0; d < depth; d++) if (bit(kk, d) !== bit(kh, d)) throw new Error('the leaf found is not on this key\'s path');
      }
      h = await sl(kk, vh);
    }
    for (let d = depth - 1; d >= 0; d--) { const s = hex(sib[d]); h = bit(kh, d) ? await nodeHash(s, h) : await nodeHash(h, s); }
    if (toHex(h) !== root) throw new Error('the state proof does not reach the block\'s state root');
  };

  /** Checks a commit certificate for `h` against the trusted set `vs`; returns {k, n}. */
  const certificate = async (chain, h, c, vs) => {
    if (h.chain_id !== chain) throw new Error('block ' + h.height + ' is for chain ' + h.chain_id + ', not ' + chain);
    if (c.height !== h.height) throw new Error('the certificate is for height ' + c.height + ', the header ' + h.height);
    const bh = await headerHash(h);
    if (bh !== c.block_hash) throw new Error('header hash ' + bh + ' is not the certified block ' + c.block_hash);
    if (toHex(await sha(validatorSetBytes(vs))) !== h.validator_set_hash) throw new Error('block ' + h.height + ' names a validator set the chain never had (forged validator set)');
    const total = vs.validators.reduce((n, v) => n + v.power, 0); let signed = 0, k = 0; const seen = new Set();
    for (const sg of c.signatures) {
      const v = vs.validators.find((v) => v.public_key === sg.validator);
      if (!v || seen.has(sg.validator)) continue; seen.add(sg.validator);
      const msg = signingBytes(chain, 3, await sha(voteBytes(c.height, c.round, c.block_hash, sg.validator)));
      const key = await crypto.subtle.importKey('raw', hex(sg.validator), { name: 'Ed25519' }, false, ['verify']);
      if (await crypto.subtle.verify({ name: 'Ed25519' }, key, hex(sg.signature), msg)) { signed += v.power; k++; }
    }
    if (3 * signed <= 2 * total) throw new Error('block ' + h.height + ': only ' + k + ' of ' + vs.validators.length + ' trusted validator signatures valid');
    return { k, n: vs.validators.length };
  };

  /** Proves every validator set from the fingerprint; returns [[first height, set], ...]. */
  const history = async (hist, fp) => {
    const g = hist.genesis;
    if (!/^[0-9a-f]{24}$/i.test(fp || '')) throw new Error('the code carries no valid chain fingerprint');
    if (g.height !== 0) throw new Error('the genesis header is not at height 0');
    const gh = await headerHash(g);
    if (gh.slice(0, 24) !== fp.toLowerCase()) throw new Error('the node serves another chain: genesis ' + gh.slice(0, 24) + ', the code says ' + fp);
    if (toHex(await sha(validatorSetBytes(hist.genesis_validators))) !== g.validator_set_hash) throw new Error('the genesis validator set is not the one the genesis header names');
    const sets = [[1, hist.genesis_validators]];
    for (const ch of hist.changes) {
      const h = ch.block.header, [from, cur] = sets[sets.length - 1];
      if (h.height < from) throw new Error('validator changes out of order');
      await certificate(g.chain_id, h, ch.block.certificate, cur);
      await stateProof(h.state_root, enc.encode('validators'), validatorSetBytes(ch.validators), ch.proof);
      sets.push([h.height + 1, ch.validators]);
    }
    return sets;
  };
  const setAt = (sets, height) => { let s = sets[0][1]; for (const [f, v] of sets) if (f <= height) s = v; return s; };

  const STATUS = ['commissioned', 'harvested', 'in_transit', 'received', 'sold', 'recalled', 'consumed', 'destroyed'];
  /** Decodes the fields of a lot record the page proves (borsh of contracts::trace::types::Lot). */
  const decodeLot = (b) => {
    let i = 0; const dv = new DataView(b.buffer, b.byteOffset, b.byteLength); const dec = new TextDecoder('utf-8', { fatal: true });
    const need = (n) => { if (i + n > b.length) throw new Error('the lot record is truncated'); };
    const U8 = () => { need(1); return b[i++]; }, U32 = () => { need(4); const v = dv.getUint32(i, true); i += 4; return v; };
    const U64 = () => { need(8); const v = dv.getBigUint64(i, true); i += 8; return v; };
    const S = () => { const n = U32(); need(n); const s = dec.decode(b.subarray(i, i + n)); i += n; return s; };
    const B = () => { const v = U8(); if (v > 1) throw new Error('bad bool in the lot record'); return v === 1; };
    const O = (f) => (B() ? f() : null);
    const lot = { id: S(), product: S(), producer: S(), custodian: S(), in_transit_to: O(S) };
    const origin = () => { S(); S(); S(); need(8); i += 8; };
    origin();
    const V = (f) => { const n = U32(); for (let k = 0; k < n; k++) f(); };
    V(origin); // every input's origin
    U64(); S();
    const st = U8(); if (st >= STATUS.length) throw new Error('unknown lot status ' + st);
    lot.status = STATUS[st];
    U64(); U64(); B();
    O(() => { S(); B(); need(32); i += 32; U64(); });
    O(() => { S(); S(); S(); U8(); U64(); U64(); V(S); });
    U32(); lot.held = B();
    return lot;
  };

  /** Checks a tx proof (latest event) against the trusted sets. */
  const txProof = async (chain, p, txHash, sets) => {
    const h = p.block.header, c = p.block.certificate;
    if (p.tx_hash !== txHash) throw new Error('the proof is for transaction ' + p.tx_hash + ', not ' + txHash);
    const cert = await certificate(chain, h, c, setAt(sets, h.height));
    if (p.inclusion.tree_size !== h.tx_count) throw new Error('the path is for ' + p.inclusion.tree_size + ' transactions, the block holds ' + h.tx_count);
    await inclusion(await leafHash(await sha(cat(hex(p.tx_hash), hex(p.signature)))), p.inclusion, h.tx_root, 'transaction');
    const rc = p.receipt; if (!rc) throw new Error('the proof carries no receipt');
    const rb = hex(rc.bytes);
    if (toHex(rb.slice(0, 32)) !== p.tx_hash) throw new Error('the receipt is for another transaction');
    if (rc.inclusion.leaf_index !== p.inclusion.leaf_index || rc.inclusion.tree_size !== p.inclusion.tree_size) throw new Error('the receipt is at another position than the transaction');
    await inclusion(await leafHash(await sha(rb)), rc.inclusion, h.receipts_root, 'receipt');
    if (rb[32] !== 0) throw new Error('the ledger refused this transaction');
    return cert;
  };

  /** Checks the lot's state proof; returns {lot, height, time_ms}. */
  const lotState = async (chain, sp, lotId, sets) => {
    const want = 'trace/lot/' + lotId;
    if (new TextDecoder().decode(hex(sp.key)) !== want) throw new Error('the state proof is for ' + new TextDecoder().decode(hex(sp.key)) + ', not ' + want);
    if (sp.value === null || sp.value === undefined) throw new Error('the ledger proves no record for this lot');
    const h = sp.block.header;
    await certificate(chain, h, sp.block.certificate, setAt(sets, h.height));
    const v = hex(sp.value);
    await stateProof(h.state_root, enc.encode(want), v, sp.proof);
    const lot = decodeLot(v);
    if (lot.id !== lotId) throw new Error('the proven record is of lot ' + lot.id);
    return { lot, height: h.height, time_ms: h.time_ms };
  };

  const api = { hex, toHex, sha, headerBytes, headerHash, voteBytes, signingBytes, validatorSetBytes, leafHash, inclusion, stateProof, certificate, history, setAt, decodeLot, txProof, lotState };
  globalThis.Jialing = api;

  // The consumer page.
  const el = typeof document !== 'undefined' && document.getElementById('jscheck');
  if (!el) return;
  const zh = el.dataset.lang === 'zh';
  const say = (ok, m) => { el.textContent = m; el.className = ok ? 'ok' : 'bad'; el.dataset.verified = ok ? 'yes' : 'no'; };
  (async () => {
    const t0 = performance.now();
    try {
      if (!crypto.subtle) throw new Error('no WebCrypto');
      const fp = new URLSearchParams(location.search).get('chain');
      if (!fp) throw new Error(zh ? '追溯码未携带链指纹，无法独立验证' : 'the code carries no chain fingerprint (chain=), nothing to check the node against');
      const r = await fetch('/v1/proof/lot/' + encodeURIComponent(el.dataset.lot) + '?tx=' + el.dataset.tx);
      if (!r.ok) throw new Error('the node answered ' + r.status + ' for the proof');
      const d = await r.json();
      const sets = await history(d.history, fp);
      const chain = d.history.genesis.chain_id;
      const cert = await txProof(chain, d.latest_event, el.dataset.tx, sets);
      const st = await lotState(chain, d.state, el.dataset.lot, sets);
      if (st.lot.status !== el.dataset.status) throw new Error('the page says status ' + el.dataset.status + ', the ledger proves ' + st.lot.status);
      if (String(st.lot.held) !== el.dataset.held) throw new Error('the page says hold=' + el.dataset.held + ', the ledger proves hold=' + st.lot.held);
      if (st.height < d.latest_event.block.header.height) throw new Error('the state proof is older than the lot\'s latest event (stale state)');
      const maxAge = Number(el.dataset.maxAgeMs || 120000);
      const age = () => Math.max(0, Math.round((Date.now() - st.time_ms) / 1000));
      if (Date.now() - st.time_ms > maxAge) throw new Error(zh ? ('节点可能落后：其最新已确认区块已是 ' + age() + ' 秒前') : ('the node may be behind: its newest certified block is ' + age() + ' s old (bound ' + maxAge / 1000 + ' s)'));
      el.dataset.ms = String(Math.round(performance.now() - t0));
      el.dataset.status = st.lot.status;
      const recalled = st.lot.status === 'recalled';
      const msg = () => zh
        ? ('✓ 已在您的手机上验证（链 ' + fp + '）：' + cert.n + ' 个验证节点中 ' + cert.k + ' 个签名有效；当前状态 ' + st.lot.status + (recalled ? '（已召回）' : '') + (st.lot.held ? '（暂扣）' : '') + '，保管方 ' + st.lot.custodian + '；验证于区块 ' + st.height + '，' + age() + ' 秒前')
        : ('✓ Verified in your browser against chain ' + fp + ': ' + cert.k + ' of ' + cert.n + ' validator signatures valid; current state ' + st.lot.status + (recalled ? ' (RECALLED)' : '') + (st.lot.held ? ' (on hold)' : '') + ', custodian ' + st.lot.custodian + '; verified as of block ' + st.height + ', ' + age() + ' s ago');
      say(true, msg());
      setInterval(() => { if (el.dataset.verified === 'yes') el.textContent = msg(); }, 1000);
    } catch (e) {
      el.dataset.ms = String(Math.round(performance.now() - t0));
      say(false, (zh ? '✗ 浏览器验证失败：' : '✗ Browser check failed: ') + e.message);
    }
  })();
})();
