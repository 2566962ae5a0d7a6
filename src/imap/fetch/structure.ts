/**
 * ENVELOPE and BODY/BODYSTRUCTURE (RFC 3501 7.4.2, RFC 9051 7.5.2) rendered
 * from the delivery-time index: nothing here reads the message itself.
 */
import type { BodyPart, ImapAddress, ImapEnvelope } from '../../core/mime/types.js';
import { nstr, PieceList, str, type EncodeOptions } from '../responses/encode.js';

export function renderEnvelope(env: ImapEnvelope | undefined, opts: EncodeOptions, out = new PieceList()): PieceList {
  if (!env) {
    out.push('(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)');
    return out;
  }
  out.push('(', nstr(env.date, opts), ' ', nstr(env.subject, opts), ' ');
  addresses(env.from, opts, out);
  out.push(' ');
  // RFC 3501: sender and reply-to default to from (the indexer already did; be safe).
  addresses(env.sender ?? env.from, opts, out);
  out.push(' ');
  addresses(env.replyTo ?? env.from, opts, out);
  out.push(' ');
  addresses(env.to, opts, out);
  out.push(' ');
  addresses(env.cc, opts, out);
  out.push(' ');
  addresses(env.bcc, opts, out);
  out.push(' ', nstr(env.inReplyTo, opts), ' ', nstr(env.messageId, opts), ')');
  return out;
}

function addresses(list: ImapAddress[] | null, opts: EncodeOptions, out: PieceList): void {
  if (!list || list.length === 0) {
    out.push('NIL');
    return;
  }
  out.push('(');
  for (const a of list) {
    out.push('(', nstr(a.name, opts), ' ', nstr(a.adl, opts), ' ', nstr(a.mailbox, opts), ' ', nstr(a.host, opts), ')');
  }
  out.push(')');
}

/** Parameter list; non-ASCII values go out RFC 2231-encoded unless UTF-8 is allowed. */
function params(list: Array<[string, string]> | undefined, opts: EncodeOptions, out: PieceList): void {
  if (!list || list.length === 0) {
    out.push('NIL');
    return;
  }
  out.push('(');
  list.forEach(([name, value], i) => {
    if (i > 0) out.push(' ');
    if (!opts.utf8 && /[^\x00-\x7f]/.test(value)) {
      out.push(str(name + '*', opts), ' ', str("utf-8''" + encodeURIComponent(value).replace(/['()*!]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase()), opts));
    } else {
      out.push(str(name, opts), ' ', str(value, opts));
    }
  });
  out.push(')');
}

const EMPTY_TEXT: BodyPart = {
  type: 'text',
  subtype: 'plain',
  params: [['charset', 'us-ascii']],
  id: null,
  description: null,
  encoding: '7bit',
  size: 0,
  lines: 0,
  md5: null,
  disposition: null,
  language: null,
  location: null,
  headerStart: 0,
  bodyStart: 0,
  bodyEnd: 0,
};

/** BODYSTRUCTURE (extensible = true) or BODY (extensible = false). */
export function renderBodyStructure(part: BodyPart, extensible: boolean, opts: EncodeOptions, out = new PieceList()): PieceList {
  if (part.type === 'multipart') {
    out.push('(');
    const parts = part.parts && part.parts.length > 0 ? part.parts : [EMPTY_TEXT];
    for (const p of parts) renderBodyStructure(p, extensible, opts, out);
    out.push(' ', str(part.subtype, opts));
    if (extensible) {
      out.push(' ');
      params(part.params, opts, out);
      out.push(' ');
      extension(part, opts, out);
    }
    out.push(')');
    return out;
  }
  out.push('(', str(part.type, opts), ' ', str(part.subtype, opts), ' ');
  params(part.params, opts, out);
  out.push(' ', nstr(part.id, opts), ' ', nstr(part.description, opts), ' ', str(part.encoding || '7bit', opts), ' ', String(part.size));
  const isMessage = part.type === 'message' && (part.subtype === 'rfc822' || part.subtype === 'global');
  if (isMessage) {
    out.push(' ');
    renderEnvelope(part.envelope, opts, out);
    out.push(' ');
    renderBodyStructure(part.message ?? EMPTY_TEXT, extensible, opts, out);
    out.push(' ', String(part.lines ?? 0));
  } else if (part.type === 'text') {
    out.push(' ', String(part.lines ?? 0));
  }
  if (extensible) {
    out.push(' ', nstr(part.md5, opts), ' ');
    extension(part, opts, out);
  }
  out.push(')');
  return out;
}

/** body-fld-dsp SP body-fld-lang SP body-fld-loc */
function extension(part: BodyPart, opts: EncodeOptions, out: PieceList): void {
  if (part.disposition) {
    out.push('(', str(part.disposition.type, opts), ' ');
    params(part.disposition.params, opts, out);
    out.push(')');
  } else out.push('NIL');
  out.push(' ');
  const lang = part.language;
  if (!lang || lang.length === 0) out.push('NIL');
  else if (lang.length === 1) out.push(str(lang[0]!, opts));
  else {
    out.push('(');
    lang.forEach((l, i) => out.push(i > 0 ? ' ' : '', str(l, opts)));
    out.push(')');
  }
  out.push(' ', nstr(part.location, opts));
}
