/*
 * test_jsonin.c — the strict JSON reader (server/jsonin.c) against the parser it replaced.
 *
 * Oracles, not hand-written expectations: jansson's json_loadb(JSON_REJECT_DUPLICATES) decides
 * which bodies are valid (the REST codecs used exactly that call before), and glibc's strtod
 * decides every number's double (jansson converted reals with strtod). Each test generates its
 * inputs from a fixed seed, so failures reproduce. Error messages are checked for the place
 * (line, column, byte) and what was expected there.
 */
#include "jsonin.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char msg[1024];

static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

/* Does token v of d hold the same value as jansson's j (types, numbers bit for bit, string
 * bytes, array order, object members in order)? */
static bool same_value(const srv_jsonin_doc *d, uint32_t v, json_t *j) {
  switch (srv_jsonin_typeof(d, v)) {
  case SRV_JSONIN_NULL: return json_is_null(j);
  case SRV_JSONIN_TRUE: return json_is_true(j);
  case SRV_JSONIN_FALSE: return json_is_false(j);
  case SRV_JSONIN_INTEGER:
    return json_is_integer(j) && json_integer_value(j) == srv_jsonin_int(d, v);
  case SRV_JSONIN_REAL: {
    if (!json_is_real(j))
      return false;
    double a = json_real_value(j), b = srv_jsonin_real(d, v);
    return !memcmp(&a, &b, sizeof a);
  }
  case SRV_JSONIN_STRING: {
    size_t n;
    const char *p = srv_jsonin_str(d, v, &n);
    return json_is_string(j) && json_string_length(j) == n && !memcmp(p, json_string_value(j), n);
  }
  case SRV_JSONIN_ARRAY: {
    if (!json_is_array(j) || json_array_size(j) != srv_jsonin_size(d, v))
      return false;
    uint32_t c = v + 1;
    for (size_t i = 0; i < json_array_size(j); i++, c = srv_jsonin_next(d, c))
      if (!same_value(d, c, json_array_get(j, i)))
        return false;
    return c == srv_jsonin_next(d, v);
  }
  case SRV_JSONIN_OBJECT: {
    if (!json_is_object(j) || json_object_size(j) != srv_jsonin_size(d, v))
      return false;
    uint32_t k = v + 1;
    const char *key;
    json_t *val;
    json_object_foreach(j, key, val) {
      size_t n;
      const char *p = srv_jsonin_str(d, k, &n);
      if (strlen(key) != n || memcmp(key, p, n) || !same_value(d, k + 1, val))
        return false;
      if (srv_jsonin_get(d, v, key) != k + 1)
        return false;
      k = srv_jsonin_next(d, k + 1);
    }
    return k == srv_jsonin_next(d, v);
  }
  }
  return false;
}

/* Parses body with both readers: same verdict, and the same document when valid. Returns
 * our status. */
static int check_against_jansson(const char *body, size_t len) {
  json_error_t je;
  json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
  srv_jsonin_doc d;
  msg[0] = 0;
  int st = srv_jsonin_parse(&d, body, len, msg, sizeof msg);
  cr_assert_eq(j != NULL, st == 200, "jansson %s (%s), jsonin %d (%s) on %.*s",
               j ? "accepts" : "rejects", j ? "" : je.text, st, msg, (int)(len > 200 ? 200 : len),
               body);
  if (j)
    cr_assert(same_value(&d, 1, j), "documents differ: %.*s", (int)(len > 200 ? 200 : len), body);
  else
    cr_assert_eq(st, 400, "%d %s", st, msg);
  json_decref(j);
  srv_jsonin_free(&d);
  return st;
}

static const char *SEEDS[] = {
    "{\"instances\": [[[1,2],[3,4]], [[5,6],[7,8.5]]], \"signature_name\": \"serving_default\"}",
    "{\"a\": \"x\\u00e9\\ud83d\\ude00\\n\\/\\\"\\\\\\b\\f\\r\\t\", \"b\": [true, false, null, -0, "
    "-0.0, 1e5, 1E-5, 12.5e+3], \"c\": {}, \"\": []}",
    "[{\"b64\": \"AACAPwAAAEAAAEBAAACAQA==\"}, \"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\", [[]]]",
    "{\"id\": \"q\", \"inputs\": [{\"name\": \"x\", \"shape\": [1,2], \"datatype\": \"FP32\", "
    "\"data\": [1.5, 2]}], \"outputs\": [{\"name\": \"y\"}]}",
    "[9223372036854775807, -9223372036854775808, 1.7976931348623157e308, 4.9e-324, "
    "2.2250738585072014e-308, 0.10000000149011612, 123456789012345678901234567890]",
    " \t\r\n{ \"k\" : [ 1 , 2 ] }\n",
};
static const char NOISE[] = "{}[],:\"\\ 0123456789-+.eEtruefalsnulINa\n\t\r\x01\x1f\x7f\x80\xbf\xc0"
                            "\xc3\xa9\xed\xa0\xf4\x90\xf8u";

Test(jsonin, agrees_with_jansson_on_mutated_bodies) {
  char buf[1024];
  int accepted = 0, rejected = 0;
  for (int i = 0; i < 30000; i++) {
    const char *seed = SEEDS[next_rand() % (sizeof SEEDS / sizeof *SEEDS)];
    size_t n = strlen(seed);
    memcpy(buf, seed, n);
    int muts = (int)(next_rand() % 4);
    for (int m = 0; m < muts; m++) {
      size_t at = n ? next_rand() % n : 0;
      char c = NOISE[next_rand() % (sizeof NOISE - 1)];
      switch (next_rand() % 4) {
      case 0:
        if (n)
          buf[at] = c;
        break;
      case 1:
        if (n + 1 < sizeof buf) {
          memmove(buf + at + 1, buf + at, n - at);
          buf[at] = c;
          n++;
        }
        break;
      case 2:
        if (n) {
          memmove(buf + at, buf + at + 1, n - at - 1);
          n--;
        }
        break;
      default: n = at;
      }
    }
    if (check_against_jansson(buf, n) == 200)
      accepted++;
    else
      rejected++;
  }
  cr_assert(accepted > 3000 && rejected > 3000, "%d accepted, %d rejected", accepted, rejected);
}

Test(jsonin, every_truncation_of_a_body_fails_cleanly) {
  for (size_t s = 0; s < sizeof SEEDS / sizeof *SEEDS; s++) {
    size_t n = strlen(SEEDS[s]);
    for (size_t cut = 0; cut < n; cut++) {
      /* A copy of exactly `cut` bytes, so ASan sees any read past the end. */
      char *b = malloc(cut ? cut : 1);
      memcpy(b, SEEDS[s], cut);
      check_against_jansson(b, cut);
      free(b);
    }
  }
}

static void expect_reject(const char *body, size_t len, const char *needle) {
  srv_jsonin_doc d;
  msg[0] = 0;
  int st = srv_jsonin_parse(&d, body, len, msg, sizeof msg);
  srv_jsonin_free(&d);
  cr_assert_eq(st, 400, "accepted %s", body);
  cr_assert(strstr(msg, "bad JSON at line "), "%s", msg);
  cr_assert(strstr(msg, needle), "message '%s' lacks '%s'", msg, needle);
  json_error_t je;
  json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
  cr_assert_null(j, "jansson accepts %s", body);
}

#define REJECT(body, needle) expect_reject(body, sizeof(body) - 1, needle)

Test(jsonin, rejections_say_where_and_what) {
  REJECT("", "line 1 column 1 (byte 0): expected '{' or '['");
  srv_jsonin_doc d; /* an empty POST may come without a buffer at all */
  cr_assert_eq(srv_jsonin_parse(&d, NULL, 0, msg, sizeof msg), 400);
  cr_assert(strstr(msg, "got the end of the body"), "%s", msg);
  srv_jsonin_free(&d);
  REJECT("3", "expected '{' or '['");
  REJECT("{\"a\": 1} x", "column 10 (byte 9): expected the end of the body");
  REJECT("{\"a\": 1}}", "expected the end of the body");
  REJECT("{\"a\": [1, 2,]}", "column 13 (byte 12): expected a value");
  REJECT("{\"a\": [1 2]}", "expected ',' or ']' after a list element, got '2'");
  REJECT("{\"a\" 1}", "expected ':' after an object key, got '1'");
  REJECT("{\"a\": 1,}", "expected a string key, got '}'");
  REJECT("{\"a\": 1 \"b\": 2}", "expected ',' or '}' after an object member");
  REJECT("{'a': 1}", "expected a string key, got '''");
  REJECT("{\"a\": 1, \"a\": 2}", "duplicate key 'a'");
  REJECT("{\"a\": 1, \"\\u0061\": 2}", "duplicate key 'a'"); /* equal once unescaped */
  REJECT("{\"a\": \"\\x\"}", "invalid escape '\\x'");
  REJECT("{\"a\": \"\\u12\"}", "invalid \\u escape");
  REJECT("{\"a\": \"\\u0000\"}", "\\u0000 is not allowed");
  REJECT("{\"\\u0000\": 1}", "\\u0000 is not allowed");
  REJECT("{\"a\": \"\\ud800\"}", "invalid Unicode '\\uD800'");
  REJECT("{\"a\": \"\\ud800\\u0041\"}", "invalid Unicode '\\uD800'");
  REJECT("{\"a\": \"\\udc00\"}", "invalid Unicode '\\uDC00'");
  REJECT("{\"a\": \"\xed\xa0\x80\"}", "invalid UTF-8 byte 0xed"); /* an encoded surrogate */
  REJECT("{\"a\": \"\xc0\x80\"}", "invalid UTF-8 byte 0xc0");     /* overlong */
  REJECT("{\"a\": \"\xf4\x90\x80\x80\"}", "invalid UTF-8");       /* above U+10FFFF */
  REJECT("{\"a\": \"\xc3\"}", "invalid UTF-8");                   /* cut sequence */
  REJECT("{\"a\": \"x\ty\"}", "control character 0x09");
  REJECT("{\"a\": \"x\ny\"}", "line 1 column 9 (byte 8): control character 0x0a");
  REJECT("{\"a\": \"abc", "line 1 column 7 (byte 6): unterminated string");
  REJECT("{\n  \"a\": [1,\n  2,\n  x]}", "line 4 column 3 (byte 20): expected a value");
  REJECT("{\"a\": NaN}", "NaN and Infinity are not JSON numbers");
  REJECT("{\"a\": Infinity}", "NaN and Infinity");
  REJECT("{\"a\": -Infinity}", "expected a digit, got 'I'");
  REJECT("{\"a\": nul}", "invalid literal");
  REJECT("{\"a\": 01}", "cannot start with 0 followed by a digit");
  REJECT("{\"a\": 1.}", "a digit after the decimal point");
  REJECT("{\"a\": .5}", "expected a value");
  REJECT("{\"a\": +1}", "expected a value");
  REJECT("{\"a\": 1e}", "a digit in the exponent");
  REJECT("{\"a\": 1e+}", "a digit in the exponent");
  REJECT("{\"a\": -}", "expected a digit");
  REJECT("{\"a\": 9223372036854775808}", "out of the 64-bit range");
  REJECT("{\"a\": -9223372036854775809}", "out of the 64-bit range");
  REJECT("{\"a\": 1e309}", "beyond the range of a double");
  REJECT("{\"a\": -1.7976931348623159e308}", "beyond the range of a double");
  REJECT("{\"a\": 0.00001e314}", "beyond the range of a double");
  REJECT("\xef\xbb\xbf{}", "got byte 0xef"); /* a byte order mark is not JSON */
  REJECT("{\"a\": 1}\0", "got byte 0x00");
}

Test(jsonin, accepts_what_jansson_accepts_at_the_edges) {
  const char *ok[] = {
      "{}",
      "[]",
      " [ ] ",
      "{\"\": \"\"}",
      "[-0, -0.0, 0e0, 0E+00, -0.0e-0]",
      "[9223372036854775807, -9223372036854775808]",
      "[1.7976931348623158e308, 1e-400, 4.9e-324, 2.4703282292062328e-324]",
      "[100000000000000000000000000000000000000e270]", /* 1e308, through strtod */
      "[0.00000000000000000000000000000000000000000000000000000000000000001e372]",
      "[\"\\u00e9\\u20ac\\ud83d\\ude00\", \"\xf0\x9f\x98\x80\", \"\\/\"]",
      "{\"a\": {\"a\": {\"a\": 1}}, \"b\": [{\"a\": 2}, {\"a\": 3}]}",
  };
  for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
    cr_assert_eq(check_against_jansson(ok[i], strlen(ok[i])), 200, "%s: %s", ok[i], msg);
}

static void nested(char *b, int levels, bool scalar, size_t *len) {
  size_t n = 0;
  for (int i = 0; i < levels; i++)
    b[n++] = '[';
  if (scalar)
    b[n++] = '1';
  for (int i = 0; i < levels; i++)
    b[n++] = ']';
  *len = n;
}

Test(jsonin, nesting_limit_is_janssons) {
  static char b[2 * SRV_JSONIN_MAX_DEPTH + 8];
  size_t n;
  /* jansson counts every value's level, scalars included: 2048 lists nest, a value inside
   * the 2048th does not. */
  nested(b, SRV_JSONIN_MAX_DEPTH, false, &n);
  cr_assert_eq(check_against_jansson(b, n), 200, "%s", msg);
  nested(b, SRV_JSONIN_MAX_DEPTH - 1, true, &n);
  cr_assert_eq(check_against_jansson(b, n), 200, "%s", msg);
  nested(b, SRV_JSONIN_MAX_DEPTH, true, &n);
  cr_assert_eq(check_against_jansson(b, n), 400);
  cr_assert(strstr(msg, "nested deeper than 2048"), "%s", msg);
  nested(b, SRV_JSONIN_MAX_DEPTH + 1, false, &n);
  cr_assert_eq(check_against_jansson(b, n), 400);
  /* A very deep body costs no stack: the reader does not recurse. */
  size_t big = 1 << 20;
  char *deep = malloc(big);
  memset(deep, '[', big);
  srv_jsonin_doc d;
  cr_assert_eq(srv_jsonin_parse(&d, deep, big, msg, sizeof msg), 400);
  srv_jsonin_free(&d);
  free(deep);
}

Test(jsonin, duplicate_keys_in_large_objects) {
  /* Past 32 members duplicates are found by sorting when the object closes. */
  char *b = malloc(1 << 16);
  for (int dup = 0; dup < 2; dup++) {
    size_t n = (size_t)sprintf(b, "{");
    for (int i = 0; i < 1000; i++)
      n += (size_t)sprintf(b + n, "%s\"k%d\": %d", i ? ", " : "", i, i);
    n += (size_t)sprintf(b + n, dup ? ", \"k\\u0035\\u0030\\u0030\": 1}" : ", \"k1000\": 1}");
    int st = check_against_jansson(b, n);
    cr_assert_eq(st, dup ? 400 : 200, "%s", msg);
    if (dup)
      cr_assert(strstr(msg, "duplicate key 'k500'"), "%s", msg);
  }
  free(b);
}

Test(jsonin, escaped_strings_and_keys_read_back_decoded) {
  const char *body =
      "{\"na\\u006de\": \"a\\\"b\\\\c\\/d\\n\\u00e9\\ud83d\\ude00\", \"plain\": \"x\"}";
  srv_jsonin_doc d;
  cr_assert_eq(srv_jsonin_parse(&d, body, strlen(body), msg, sizeof msg), 200, "%s", msg);
  uint32_t v = srv_jsonin_get(&d, 1, "name");
  cr_assert(srv_jsonin_is(&d, v, SRV_JSONIN_STRING));
  char *s = srv_jsonin_strdup(&d, v);
  cr_assert_str_eq(s, "a\"b\\c/d\n\xc3\xa9\xf0\x9f\x98\x80");
  free(s);
  size_t n;
  const char *p = srv_jsonin_str(&d, srv_jsonin_get(&d, 1, "plain"), &n);
  cr_assert_eq(n, 1);
  cr_assert_eq(p[0], 'x');
  cr_assert_eq(srv_jsonin_get(&d, 1, "nam"), 0);
  cr_assert_eq(srv_jsonin_at(&d, 1, 0), 0); /* not an array */
  srv_jsonin_free(&d);
}

/* ---- numbers ---------------------------------------------------------------------------- */

static void expect_strtod(const char *s) {
  double want = strtod(s, NULL), got = srv_jsonin_strtod(s, strlen(s));
  cr_assert(!memcmp(&want, &got, sizeof want), "%s: strtod %a, jsonin %a", s, want, got);
}

Test(jsonin, numbers_round_like_strtod_at_the_edges) {
  const char *cases[] = {
      "0",
      "-0",
      "0.0",
      "-0.0",
      "1",
      "-1",
      "0.1",
      "0.5",
      "1e-7",
      "1E+7",
      "123456789",
      "9007199254740992",
      "9007199254740993",
      "9007199254740993.0", /* 2^53 + 1: a tie */
      "9007199254740995",
      "18014398509481987",
      "1152921573326323713",
      "0.10000000149011612",
      "0.1000000014901161193847656250000000001", /* > 19 digits */
      "3.4028234663852886e38",
      "3.4028235677973366e38",
      "3.5e38",
      "1e-45",
      "1e-46",
      "1.401298464324817e-45",
      "7.006492321624085e-46",
      "7.006492321624086e-46",
      "1.1754943508222875e-38",
      "1.7976931348623157e308",
      "1.7976931348623158e308",
      "4.9e-324",
      "5e-324",
      "2.4703282292062327e-324",
      "2.4703282292062328e-324",
      "2.2250738585072011e-308",
      "2.2250738585072012e-308",
      "2.2250738585072014e-308",
      "1e22",
      "1e23",
      "8.98846567431158e307",
      "0.000000000000000000000000000000000001",
      "123456789012345678",
      "1234567890123456789",
      "12345678901234567890",                                    /* 20 digits */
      "1.00000000000000011102230246251565404236316680908203125", /* halfway, exact */
      "1.00000000000000011102230246251565404236316680908203124",
      "1.00000000000000011102230246251565404236316680908203126",
      "7.2057594037927933e16",
      "1e-300",
      "1e300",
      "6.02214076e23",
      "-2.5e-5",
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
    expect_strtod(cases[i]);
}

Test(jsonin, numbers_round_like_strtod_on_random_inputs) {
  char buf[128];
  for (int i = 0; i < 120000; i++) {
    switch (i % 6) {
    case 0: { /* random doubles, shortest-ish and full */
      uint64_t b = next_rand();
      double v;
      memcpy(&v, &b, 8);
      if (!isfinite(v))
        continue;
      snprintf(buf, sizeof buf, i % 12 ? "%.17g" : "%.15g", v);
      break;
    }
    case 1: { /* float32 values as a client prints them after widening to double */
      uint32_t b = (uint32_t)next_rand();
      float f;
      memcpy(&f, &b, 4);
      if (!isfinite(f))
        continue;
      snprintf(buf, sizeof buf, "%.17g", (double)f);
      break;
    }
    case 2: { /* 1..19 random digits, random exponent across the whole range */
      int nd = 1 + (int)(next_rand() % 19);
      char m[24];
      for (int k = 0; k < nd; k++)
        m[k] = (char)('0' + next_rand() % 10);
      m[nd] = 0;
      if (m[0] == '0')
        m[0] = '7';
      snprintf(buf, sizeof buf, "%s%se%d", next_rand() & 1 ? "-" : "", m,
               (int)(next_rand() % 680) - 360);
      break;
    }
    case 3: { /* 20-30 digits: the strtod fallback */
      int nd = 20 + (int)(next_rand() % 11);
      int n = snprintf(buf, sizeof buf, "0.");
      for (int k = 0; k < nd; k++)
        buf[n++] = (char)('0' + next_rand() % 10);
      buf[n] = 0;
      break;
    }
    case 4: { /* exact double midpoints: odd multiples of half an ulp, as integers */
      uint64_t m = (next_rand() >> 10) | (1ull << 53) | 1;
      snprintf(buf, sizeof buf, "%llu.0", (unsigned long long)m);
      break;
    }
    default: { /* leading zeros after the point */
      int z = (int)(next_rand() % 30), nd = 1 + (int)(next_rand() % 18);
      int n = snprintf(buf, sizeof buf, "0.");
      for (int k = 0; k < z; k++)
        buf[n++] = '0';
      for (int k = 0; k < nd; k++)
        buf[n++] = (char)('1' + next_rand() % 9);
      buf[n] = 0;
    }
    }
    expect_strtod(buf);
  }
}

Test(jsonin, integer_tokens_keep_int64) {
  const char *body = "[0, -0, 7, -123, 9223372036854775807, -9223372036854775808, 1.0, 1e2]";
  srv_jsonin_doc d;
  cr_assert_eq(srv_jsonin_parse(&d, body, strlen(body), msg, sizeof msg), 200, "%s", msg);
  const int64_t want[] = {0, 0, 7, -123, INT64_MAX, INT64_MIN};
  uint32_t v = 2;
  for (int i = 0; i < 6; i++, v = srv_jsonin_next(&d, v)) {
    cr_assert_eq(srv_jsonin_typeof(&d, v), SRV_JSONIN_INTEGER);
    cr_assert_eq(srv_jsonin_int(&d, v), want[i]);
  }
  cr_assert_eq(srv_jsonin_typeof(&d, v), SRV_JSONIN_REAL); /* 1.0: jansson's json_real */
  cr_assert_eq(srv_jsonin_number(&d, v), 1.0);
  cr_assert_eq(srv_jsonin_number(&d, srv_jsonin_next(&d, v)), 100.0);
  cr_assert_eq(srv_jsonin_at(&d, 1, 7), srv_jsonin_next(&d, v));
  cr_assert_eq(srv_jsonin_at(&d, 1, 8), 0);
  srv_jsonin_free(&d);
}
