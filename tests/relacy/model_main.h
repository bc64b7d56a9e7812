// tests/relacy/model_main.h: the main() every model shares. A model runs
// `iterations` random interleavings of its test suite. Its broken twin is
// the same program built with the model's WEFT_MODEL_BROKEN_* flag, which
// the model maps to `broken`: the twin must FAIL the check, so it exits 0
// only when the checker caught it (a checker that passes the broken code
// proves nothing about the real one).
#ifndef WEFT_TESTS_RELACY_MODEL_MAIN_H
#define WEFT_TESTS_RELACY_MODEL_MAIN_H

#include <cstdio>

template <class Model> int weft_model_main(int iterations, bool broken) {
  rl::test_params p;
  p.iteration_count = iterations;
  p.search_type = rl::random_scheduler_type;
  bool ok = rl::simulate<Model>(p);
  if (!broken)
    return ok ? 0 : 1;
  if (ok) {
    std::printf("broken twin was NOT caught by the model checker\n");
    return 1;
  }
  std::printf("broken twin caught, as it must be\n");
  return 0;
}

#endif
