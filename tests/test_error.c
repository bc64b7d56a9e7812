/* tests/test_error.c: error codes and version. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>
#include <weft.h>

static void test_error_codes_map_errno(void **state) {
  (void)state;
  assert_int_equal(WEFT_ENOMEM, -ENOMEM);
  assert_int_equal(WEFT_EINVAL, -EINVAL);
  assert_int_equal(WEFT_ECANCELED, -ECANCELED);
  assert_true(WEFT_ECLOSED < 0);
}

static void test_error_names_and_messages(void **state) {
  (void)state;
  assert_string_equal(weft_err_name(WEFT_ENOMEM), "WEFT_ENOMEM");
  assert_string_equal(weft_err_name(WEFT_EBACKEND), "WEFT_EBACKEND");
  assert_string_equal(weft_strerror(WEFT_ENOMEM), "not enough memory");
  assert_string_equal(weft_err_name(12345), "WEFT_UNKNOWN");
  assert_string_equal(weft_strerror(12345), "unknown error");
  assert_string_equal(weft_err_name(0), "WEFT_OK");
}

static void test_error_version(void **state) {
  (void)state;
  assert_int_equal(weft_version(), WEFT_VERSION_HEX);
  assert_string_equal(weft_version_string(), "0.1.0");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_error_codes_map_errno),
      cmocka_unit_test(test_error_names_and_messages),
      cmocka_unit_test(test_error_version),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
