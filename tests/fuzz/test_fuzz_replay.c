/* tests/fuzz/test_fuzz_replay.c: every file of the fuzzing corpus through
 * the fuzz harness (fuzz/fuzz_api.c), in every build. This keeps the
 * harness compiled and its checks true without libFuzzer, and turns each
 * committed input, including any crash once fixed, into a regression test.
 * A failed check in the harness traps, which fails this test.
 *
 * usage: test_fuzz_replay CORPUS_DIR */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *corpus_dir;

static void test_fuzz_replay_corpus(void **state) {
  (void)state;
  DIR *d = opendir(corpus_dir);
  assert_non_null(d);
  struct dirent *e;
  int files = 0;
  size_t bytes = 0;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    char path[4096];
    uint8_t buf[65536];
    snprintf(path, sizeof path, "%s/%s", corpus_dir, e->d_name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    assert_int_equal(LLVMFuzzerTestOneInput(buf, n), 0);
    files++;
    bytes += n;
  }
  closedir(d);
  printf("replayed %d corpus files (%zu bytes)\n", files, bytes);
  assert_true(files >= 20); /* the corpus is committed, not empty */
}

/* The empty input and one of every opcode, whatever the corpus holds. */
static void test_fuzz_replay_each_opcode(void **state) {
  (void)state;
  assert_int_equal(LLVMFuzzerTestOneInput(NULL, 0), 0);
  for (uint8_t op = 0; op < 13; op++) {
    uint8_t in[] = {0, 0, 0, op, 0, 5, 0, 1, 1, 3, 0, 9};
    assert_int_equal(LLVMFuzzerTestOneInput(in, sizeof in), 0);
  }
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  corpus_dir = argv[1];
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fuzz_replay_corpus),
      cmocka_unit_test(test_fuzz_replay_each_opcode),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
