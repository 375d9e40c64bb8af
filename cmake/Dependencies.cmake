# Every third-party dependency, found once, exposed as an imported/INTERFACE target.
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)
find_package(CapnProto REQUIRED)
find_package(GTest REQUIRED)
find_package(benchmark REQUIRED)
find_package(spdlog REQUIRED)
find_package(fmt REQUIRED)
find_package(nlohmann_json REQUIRED)
find_package(leveldb REQUIRED)
# libcurl (libcurl4-openssl-dev): the executor's HTTP(S) health checks.
find_package(CURL REQUIRED)

pkg_check_modules(ZMQ REQUIRED IMPORTED_TARGET libzmq)
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)

# CAF 0.17 ships no CMake config.
find_path(CAF_INCLUDE_DIR caf/all.hpp REQUIRED)
find_library(CAF_CORE_LIBRARY caf_core REQUIRED)
add_library(stoa_caf INTERFACE)
target_include_directories(stoa_caf SYSTEM INTERFACE ${CAF_INCLUDE_DIR})
target_link_libraries(stoa_caf INTERFACE ${CAF_CORE_LIBRARY} Threads::Threads)

# ZooKeeper C client: no CMake config, multi-threaded flavour.
find_path(ZOOKEEPER_INCLUDE_DIR zookeeper/zookeeper.h REQUIRED)
find_library(ZOOKEEPER_LIBRARY zookeeper_mt REQUIRED)
add_library(stoa_zookeeper INTERFACE)
target_include_directories(stoa_zookeeper SYSTEM INTERFACE ${ZOOKEEPER_INCLUDE_DIR})
target_compile_definitions(stoa_zookeeper INTERFACE THREADED)
target_link_libraries(stoa_zookeeper INTERFACE ${ZOOKEEPER_LIBRARY})
