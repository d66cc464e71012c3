// An emulated CUDA device for the test suite (CudaEmulationTest): a libcuda.so.1 whose driver calls
// work on host memory and whose cuLaunchKernel runs Ember's kernels compiled as host C++ (linked
// into this library, see cuda_host_emu.h). It reports one "Ember Emulated GPU" of compute
// capability 9.0 and 16 GiB. Ember's whole CUDA path (the probe, Backends, CudaBackend's context,
// caching allocator, pinned staging, module loading of the sm_90 cubin, argument packing and every
// kernel's code) then runs without a GPU; only the GPU's own execution model is emulated: a block's
// threads run as fibers meeting at each __syncthreads(), blocks in turn.
//
// Device memory is kept apart from the host's as on a GPU: it lives in one arena that is
// inaccessible (PROT_NONE) except while a driver call that touches it (a copy, a kernel launch)
// runs. Java code that reads or writes a cuda:0 array's address directly, which a real GPU answers
// with a crash or garbage, crashes here too (SIGSEGV), so HostReadsTest and the conformance suite
// catch it; pinned host memory (cuMemHostAlloc) stays readable, as it is on a GPU machine.
#include <dlfcn.h>
#include <pthread.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cuda_host_emu.h"

thread_local EmberDim3 threadIdx;
EmberDim3 blockIdx, blockDim, gridDim;
std::mutex ember_emu_atomic;

extern "C" {
int cuDriverGetVersion(int* v) { *v = 13000; return 0; }
int cuInit(unsigned int) { return 0; }
int cuDeviceGetCount(int* c) { *c = 1; return 0; }
int cuDeviceGet(int* d, int ordinal) { *d = ordinal; return 0; }
int cuDeviceGetName(char* name, int len, int) {
  strncpy(name, "Ember Emulated GPU", (size_t) len);
  name[len - 1] = 0;
  return 0;
}
int cuDeviceTotalMem_v2(size_t* bytes, int) { *bytes = (size_t) 16 << 30; return 0; }
int cuDeviceGetAttribute(int* v, int attr, int) {
  if (attr == 75) { *v = 9; return 0; }
  if (attr == 76) { *v = 0; return 0; }
  return 1;
}
int cuGetErrorName(int, const char**) { return 1; }
int cuGetErrorString(int, const char**) { return 1; }

static int ctx_dummy, stream_dummy, module_dummy;
int cuDevicePrimaryCtxRetain(void** ctx, int) { *ctx = &ctx_dummy; return 0; }
int cuCtxSetCurrent(void*) { return 0; }
int cuStreamCreate(void** s, unsigned) { *s = &stream_dummy; return 0; }
int cuStreamSynchronize(void*) { return 0; }
static const size_t ARENA_BYTES = (size_t) 64 << 30;  // reserved address space, not memory
static char* arena;
static size_t arena_top;                      // bytes handed out so far (page multiple)
static std::multimap<size_t, size_t> spare;   // freed blocks: size -> offset
static std::map<size_t, size_t> live;         // offset -> size
static std::mutex arena_lock;
static int open_calls;                        // driver calls now touching device memory

static void protect(size_t from, size_t to, int prot) {
  if (to > from && mprotect(arena + from, to - from, prot) != 0) {
    perror("fake driver: mprotect");
    abort();
  }
}

// Opens the arena for the duration of one copy or launch (nested and concurrent calls share it).
struct DeviceAccess {
  DeviceAccess() {
    std::lock_guard<std::mutex> g(arena_lock);
    if (open_calls++ == 0) protect(0, arena_top, PROT_READ | PROT_WRITE);
  }
  ~DeviceAccess() {
    std::lock_guard<std::mutex> g(arena_lock);
    if (--open_calls == 0) protect(0, arena_top, PROT_NONE);
  }
};

int cuMemAlloc_v2(unsigned long long* p, size_t bytes) {
  std::lock_guard<std::mutex> g(arena_lock);
  if (!arena) {
    void* m = mmap(nullptr, ARENA_BYTES, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (m == MAP_FAILED) return 2;
    arena = (char*) m;
  }
  size_t size = (bytes + 4095) / 4096 * 4096;
  if (size == 0) size = 4096;
  size_t at;
  auto reuse = spare.find(size);
  if (reuse != spare.end()) {
    at = reuse->second;
    spare.erase(reuse);
  } else {
    if (arena_top + size > ARENA_BYTES) return 2;  // CUDA_ERROR_OUT_OF_MEMORY
    at = arena_top;
    arena_top += size;
    if (open_calls > 0) protect(at, at + size, PROT_READ | PROT_WRITE);
  }
  live[at] = size;
  *p = (unsigned long long) (arena + at);
  return 0;
}
int cuMemFree_v2(unsigned long long p) {
  std::lock_guard<std::mutex> g(arena_lock);
  auto it = live.find((size_t) ((char*) p - arena));
  if (it == live.end()) return 1;  // CUDA_ERROR_INVALID_VALUE
  spare.emplace(it->second, it->first);
  live.erase(it);
  return 0;
}
int cuMemHostAlloc(void** p, size_t bytes, unsigned) { *p = malloc(bytes); return *p ? 0 : 2; }
int cuMemFreeHost(void* p) { free(p); return 0; }
int cuMemcpyHtoDAsync_v2(unsigned long long d, const void* h, size_t n, void*) {
  DeviceAccess open;
  memcpy((void*) d, h, n);
  return 0;
}
int cuMemcpyDtoHAsync_v2(void* h, unsigned long long d, size_t n, void*) {
  DeviceAccess open;
  memcpy(h, (const void*) d, n);
  return 0;
}
int cuMemcpyDtoDAsync_v2(unsigned long long d, unsigned long long s, size_t n, void*) {
  DeviceAccess open;
  memmove((void*) d, (const void*) s, n);
  return 0;
}

// The module must be the sm_90 cubin this device's compute capability picks: an ELF image.
int cuModuleLoadData(void** m, const void* image) {
  if (memcmp(image, "\x7f" "ELF", 4) != 0) {
    fprintf(stderr, "fake driver: cuModuleLoadData got no cubin (PTX?)\n");
    return 200;  // CUDA_ERROR_INVALID_IMAGE
  }
  *m = &module_dummy;
  return 0;
}

static std::map<void*, std::string> names;
static std::mutex names_lock;

int cuModuleGetFunction(void** f, void*, const char* name) {
  Dl_info info;
  dladdr((void*) &cuModuleGetFunction, &info);
  void* self = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
  void* fn = self ? dlsym(self, name) : nullptr;
  if (!fn) return 500;  // CUDA_ERROR_NOT_FOUND
  std::lock_guard<std::mutex> g(names_lock);
  names[fn] = name;
  *f = fn;
  return 0;
}

}  // extern "C"

// A block's threads run as fibers (ucontext) on the launching thread: each runs until its next
// __syncthreads() and yields, round robin, so every thread reaches barrier k before any passes it
// (kernels reach the same barriers in every thread, as CUDA requires). Cheaper by far than OS
// threads and a pthread barrier: 256 threads meeting at a barrier on two cores cost milliseconds.
static const size_t FIBER_STACK = 256 << 10;
static ucontext_t scheduler;
static std::vector<ucontext_t> fibers;
static std::vector<char> fiber_done;
static char* fiber_stacks;
static size_t fiber_capacity;
static unsigned fiber_current;
static void (*fiber_kernel)(const void*);
static const void* fiber_params;

void ember_emu_syncthreads() { swapcontext(&fibers[fiber_current], &scheduler); }

static void fiber_entry() {
  fiber_kernel(fiber_params);
  fiber_done[fiber_current] = 1;  // returning resumes the scheduler (uc_link)
}

// Runs kernel(p) as one block of n threads (threadIdx from bx, by); returns when all have ended.
static void run_block(void (*k)(const void*), const void* p, unsigned n, unsigned bx, unsigned by) {
  if (fiber_capacity < n) {
    // reserved once, touched only as deep as the kernels go
    void* m = mmap(nullptr, FIBER_STACK * n, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) abort();
    if (fiber_stacks) munmap(fiber_stacks, FIBER_STACK * fiber_capacity);
    fiber_stacks = (char*) m;
    fiber_capacity = n;
  }
  fibers.resize(n);
  fiber_done.assign(n, 0);
  fiber_kernel = k;
  fiber_params = p;
  for (unsigned t = 0; t < n; t++) {
    getcontext(&fibers[t]);
    fibers[t].uc_stack.ss_sp = fiber_stacks + FIBER_STACK * t;
    fibers[t].uc_stack.ss_size = FIBER_STACK;
    fibers[t].uc_link = &scheduler;
    makecontext(&fibers[t], fiber_entry, 0);
  }
  for (unsigned left = n; left > 0;) {
    for (unsigned t = 0; t < n; t++) {
      if (fiber_done[t]) continue;
      fiber_current = t;
      threadIdx = {t % bx, (t / bx) % by, t / (bx * by)};
      swapcontext(&scheduler, &fibers[t]);
      if (fiber_done[t]) left--;
    }
  }
}

extern "C" {
// Runs every block in turn, each block's threads as fibers (launches one at a time). Grid-stride kernels get at most
// two blocks (the loop covers the rest), kernels without __syncthreads one thread and block
// reductions 32 (the result is the same; the emulation is faster); GEMM's tiles need every block
// and all 256 threads.
int cuLaunchKernel(void* f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                   unsigned bz, unsigned, void*, void** params, void**) {
  std::string name;
  {
    std::lock_guard<std::mutex> g(names_lock);
    name = names[f];
  }
  static std::mutex launch_lock;  // the fibers and the grid globals serve one launch at a time
  std::lock_guard<std::mutex> one(launch_lock);
  bool gemm = name.rfind("ember_gemm", 0) == 0;
  bool cooperative = gemm || name.rfind("ember_reduce", 0) == 0 || name.rfind("ember_softmax", 0) == 0 ||
                     name.rfind("ember_layer_norm", 0) == 0;
  if (!gemm && gx > 2) gx = 2;
  if (!cooperative) { gx = 1; bx = 1; by = 1; bz = 1; }
  // reductions' block trees work for any power of two: 32 threads keep the barrier cheap
  if (cooperative && !gemm && bx > 32) bx = 32;
  DeviceAccess open;
  auto kernel = (void (*)(const void*)) f;
  unsigned threads = bx * by * bz;
  gridDim = {gx, gy, gz};
  blockDim = {bx, by, bz};
  for (unsigned z = 0; z < gz; z++)
    for (unsigned y = 0; y < gy; y++)
      for (unsigned x = 0; x < gx; x++) {
        blockIdx = {x, y, z};
        if (threads == 1) {
          threadIdx = {0, 0, 0};
          kernel(params[0]);
          continue;
        }
        run_block(kernel, params[0], threads, bx, by);
      }
  return 0;
}
}
