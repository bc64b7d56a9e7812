/* core/atomics.h: the one place where lock-free core files touch atomics.
 *
 * Lock-free files (the local run queue, the task state word) write every
 * atomic operation through these macros, never through <stdatomic.h>
 * directly. In the library they expand to C11 atomics, so ThreadSanitizer
 * sees real acquire/release pairs. When WEFT_RELACY is defined (the model
 * build in tests/relacy/, compiled as C++), they expand to Relacy's
 * rl::atomic with the `$` debug annotation, and plain shared variables
 * (WEFT_VAR) become rl::var, so the model checker explores the very source
 * the library ships instead of a re-typed copy.
 *
 * Rules for files that use this header: no standalone fences, no
 * designated initialisers or other C-only syntax in the code the model
 * compiles, and an explicit memory order on every call with a comment on why.
 */
#ifndef WEFT_CORE_ATOMICS_H
#define WEFT_CORE_ATOMICS_H

#ifdef WEFT_RELACY

#define WEFT_ATOMIC(T) rl::atomic<T>
#define WEFT_RELAXED rl::mo_relaxed
#define WEFT_ACQUIRE rl::mo_acquire
#define WEFT_RELEASE rl::mo_release
#define WEFT_ACQ_REL rl::mo_acq_rel
#define WEFT_SEQ_CST rl::mo_seq_cst

#define weft_atomic_init(p, v) ((p)->store((v), rl::mo_relaxed, $))
#define weft_load(p, mo) ((p)->load((mo), $))
#define weft_store(p, v, mo) ((p)->store((v), (mo), $))
#define weft_exchange(p, v, mo) ((p)->exchange((v), (mo), $))
#define weft_cas(p, expp, des, mos, mof)                                     \
  ((p)->compare_exchange_strong(*(expp), (des), (mos), $, (mof), $))
#define weft_cas_weak(p, expp, des, mos, mof)                                \
  ((p)->compare_exchange_weak(*(expp), (des), (mos), $, (mof), $))
#define weft_fetch_add(p, v, mo) ((p)->fetch_add((v), (mo), $))
#define weft_fetch_sub(p, v, mo) ((p)->fetch_sub((v), (mo), $))
#define weft_fetch_or(p, v, mo) ((p)->fetch_or((v), (mo), $))
#define weft_fetch_and(p, v, mo) ((p)->fetch_and((v), (mo), $))
#define weft_fetch_xor(p, v, mo) ((p)->fetch_xor((v), (mo), $))

/* A plain (non-atomic) variable shared under a protocol: Relacy checks that
 * the protocol really orders every access. */
#define WEFT_VAR(T) rl::var<T>
#define WEFT_VAR_GET(x) ((x)($).load())
#define WEFT_VAR_SET(x, v) ((x)($).store(v))

/* An invariant the model must check; compiled out of the library. */
#define WEFT_MODEL_ASSERT(e) RL_ASSERT(e)

#else /* C11 */

#include <stdatomic.h>

#define WEFT_ATOMIC(T) _Atomic(T)
#define WEFT_RELAXED memory_order_relaxed
#define WEFT_ACQUIRE memory_order_acquire
#define WEFT_RELEASE memory_order_release
#define WEFT_ACQ_REL memory_order_acq_rel
#define WEFT_SEQ_CST memory_order_seq_cst

#define weft_atomic_init(p, v) atomic_init((p), (v))
#define weft_load(p, mo) atomic_load_explicit((p), (mo))
#define weft_store(p, v, mo) atomic_store_explicit((p), (v), (mo))
#define weft_exchange(p, v, mo) atomic_exchange_explicit((p), (v), (mo))
#define weft_cas(p, expp, des, mos, mof)                                     \
  atomic_compare_exchange_strong_explicit((p), (expp), (des), (mos), (mof))
#define weft_cas_weak(p, expp, des, mos, mof)                                \
  atomic_compare_exchange_weak_explicit((p), (expp), (des), (mos), (mof))
#define weft_fetch_add(p, v, mo) atomic_fetch_add_explicit((p), (v), (mo))
#define weft_fetch_sub(p, v, mo) atomic_fetch_sub_explicit((p), (v), (mo))
#define weft_fetch_or(p, v, mo) atomic_fetch_or_explicit((p), (v), (mo))
#define weft_fetch_and(p, v, mo) atomic_fetch_and_explicit((p), (v), (mo))
#define weft_fetch_xor(p, v, mo) atomic_fetch_xor_explicit((p), (v), (mo))

#define WEFT_VAR(T) T
#define WEFT_VAR_GET(x) (x)
#define WEFT_VAR_SET(x, v) ((x) = (v))

#define WEFT_MODEL_ASSERT(e) ((void)0)

#endif

#endif /* WEFT_CORE_ATOMICS_H */
