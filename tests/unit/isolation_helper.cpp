// stoa-isolation-helper: what the isolation tests run inside containers.
//   allocate MIB          touch MIB mebibytes of memory, then exit 0
//   spin THREADS SECONDS  keep THREADS threads busy for SECONDS of wall time
//   loopback              exit 0 when a TCP connection over 127.0.0.1 works
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

int Allocate(long mebibytes) {
  std::vector<char*> chunks;
  for (long i = 0; i < mebibytes; ++i) {
    char* chunk = static_cast<char*>(std::malloc(1 << 20));
    if (chunk == nullptr) return 3;
    std::memset(chunk, 1, 1 << 20);
    chunks.push_back(chunk);
  }
  std::printf("allocated %ld MiB\n", mebibytes);
  return 0;
}

// Allocates and keeps it until killed.
int Hold(long mebibytes) {
  if (int status = Allocate(mebibytes); status != 0) return status;
  std::fflush(stdout);
  while (true) pause();
}

int Spin(int threads, double seconds) {
  auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  std::vector<std::thread> workers;
  for (int i = 0; i < threads; ++i) {
    workers.emplace_back([until] {
      volatile unsigned long counter = 0;
      while (std::chrono::steady_clock::now() < until) {
        for (int j = 0; j < 100000; ++j) counter = counter + 1;
      }
    });
  }
  for (auto& worker : workers) worker.join();
  return 0;
}

int Loopback() {
  int server = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (bind(server, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      listen(server, 1) != 0 ||
      getsockname(server, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    std::perror("listen on 127.0.0.1");
    return 1;
  }
  int client = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(client, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    std::perror("connect to 127.0.0.1");
    return 1;
  }
  std::printf("loopback works\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "allocate" && argc == 3) return Allocate(std::atol(argv[2]));
  if (mode == "hold" && argc == 3) return Hold(std::atol(argv[2]));
  if (mode == "spin" && argc == 4) return Spin(std::atoi(argv[2]), std::atof(argv[3]));
  if (mode == "loopback") return Loopback();
  std::fprintf(stderr, "usage: %s allocate MIB | spin THREADS SECONDS | loopback\n", argv[0]);
  return 2;
}
