// Force-included into every C++ translation unit of a wheel build
// (setup.py with TF_FFM_WHEEL_BUILD=1, see build_tools/build_wheel.sh) to
// lower the wheel's glibc/libstdc++ floor from manylinux_2_35 to
// manylinux_2_34 (RHEL/Alma/Rocky 9, Amazon Linux 2023) with a GCC 12
// toolchain.
//
// The only libstdc++ symbol newer than GCC 11's (GLIBCXX_3.4.29) the
// libraries use is std::condition_variable::wait(unique_lock<mutex>&),
// which GCC 12 re-exported at GLIBCXX_3.4.30 when it dropped `noexcept`
// from it (PR libstdc++/103382: thread cancellation unwinding through a
// wait). The GLIBCXX_3.4.11 version every libstdc++ since GCC 4.5 exports
// is a noexcept wrapper around the same wait; tf-ffm never cancels
// threads, so binding to it changes nothing but the version required.
#ifdef __cplusplus
#include <cstddef>  // defines __GLIBCXX__ when the library is libstdc++
#if defined(__GLIBCXX__) && defined(__linux__)
__asm__(".symver _ZNSt18condition_variable4waitERSt11unique_lockISt5mutexE,"
        "_ZNSt18condition_variable4waitERSt11unique_lockISt5mutexE@GLIBCXX_3.4.11");
#endif
#endif
