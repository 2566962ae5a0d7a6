/**
 * SASLprep (RFC 4013, the stringprep profile of RFC 3454) for SCRAM passwords,
 * so that "Å" typed as one code point or as A + ring hashes the same on the
 * client and here.
 *
 * Mapping: non-ASCII spaces (C.1.2) become U+0020, characters "commonly mapped
 * to nothing" (B.1) are removed, then NFKC. Prohibited (C.2-C.9): control
 * characters, private use, non-characters, surrogates, and the other tables'
 * code points. The bidirectional rule (RFC 3454 6) is checked with Unicode
 * properties instead of the 3.2 tables. Unassigned code points are allowed
 * (the "query" profile), which is what clients do for passwords.
 */

const NON_ASCII_SPACE = /[\u00A0\u1680\u2000-\u200B\u202F\u205F\u3000]/gu;
const MAPPED_TO_NOTHING = /[\u00AD\u034F\u1806\u180B-\u180D\u200B-\u200D\u2060\uFE00-\uFE0F\uFEFF]/gu;

// C.2.1, C.2.2, C.3, C.4, C.5, C.6, C.7, C.8, C.9.
const PROHIBITED =
  /[\u0000-\u001F\u007F-\u009F\u06DD\u070F\u180E\u200C\u200D\u2028\u2029\u2060-\u2063\u206A-\u206F\uFEFF\uFFF9-\uFFFC\u{1D173}-\u{1D17A}\uE000-\uF8FF\u{F0000}-\u{FFFFD}\u{100000}-\u{10FFFD}\uFDD0-\uFDEF\uFFFE\uFFFF\u{1FFFE}\u{1FFFF}\u{2FFFE}\u{2FFFF}\u{3FFFE}\u{3FFFF}\u{4FFFE}\u{4FFFF}\u{5FFFE}\u{5FFFF}\u{6FFFE}\u{6FFFF}\u{7FFFE}\u{7FFFF}\u{8FFFE}\u{8FFFF}\u{9FFFE}\u{9FFFF}\u{AFFFE}\u{AFFFF}\u{BFFFE}\u{BFFFF}\u{CFFFE}\u{CFFFF}\u{DFFFE}\u{DFFFF}\u{EFFFE}\u{EFFFF}\u{FFFFE}\u{FFFFF}\u{10FFFE}\u{10FFFF}\u{D800}-\u{DFFF}\u{FFF9}-\u{FFFD}\u{2FF0}-\u{2FFB}\u0340\u0341\u200E\u200F\u202A-\u202E\u206A-\u206F\u{E0001}\u{E0020}-\u{E007F}]/u;

const RTL_SCRIPTS = '\\p{Script=Hebrew}\\p{Script=Arabic}\\p{Script=Syriac}\\p{Script=Thaana}\\p{Script=Nko}';
const RAND_AL_CAT = new RegExp(`(?=\\p{L})[${RTL_SCRIPTS}]`, 'u');
const L_CAT = new RegExp(`(?![${RTL_SCRIPTS}])\\p{L}`, 'u');

/** The prepared string, or null if it holds a prohibited character or breaks the bidi rule. */
export function saslprep(input: string): string | null {
  const mapped = input.replace(NON_ASCII_SPACE, ' ').replace(MAPPED_TO_NOTHING, '').normalize('NFKC');
  if (PROHIBITED.test(mapped)) return null;
  if (RAND_AL_CAT.test(mapped)) {
    // A string with right-to-left characters holds no left-to-right ones and starts and ends with RTL.
    const chars = [...mapped];
    if (L_CAT.test(mapped)) return null;
    if (!RAND_AL_CAT.test(chars[0]!) || !RAND_AL_CAT.test(chars[chars.length - 1]!)) return null;
  }
  return mapped;
}

/** The form the SCRAM password is hashed in: SASLprep'd, or as given if SASLprep refuses it. */
export function scramPassword(password: string): string {
  return saslprep(password) ?? password;
}
