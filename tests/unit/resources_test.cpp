// Unit tests for the resources algebra (and the id generator it ships with).
#include "common/resources.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <limits>
#include <mutex>
#include <ostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/ids.hpp"

namespace stoa {

// Lets GoogleTest print Resources in failure messages.
static void PrintTo(const Resources& resources, std::ostream* os) {
  *os << "\"" << resources.ToString() << "\"";
}

namespace {

Resources Parse(std::string_view text, const std::string& role = "*") {
  Result<Resources> result = Resources::Parse(text, role);
  EXPECT_TRUE(result.ok()) << text << ": " << (result.ok() ? "" : result.error());
  return result.ok() ? *result : Resources();
}

std::string ParseError(std::string_view text) {
  Result<Resources> result = Resources::Parse(text);
  EXPECT_FALSE(result.ok()) << text << " parsed as " << result->ToString();
  return result.ok() ? "" : result.error();
}

TEST(ResourcesParseTest, RoundTripsTheTextForm) {
  for (const char* text : {
           "cpus:2;mem:1024;ports:[31000-32000]",
           "cpus:0.5",
           "cpus:0.125;mem:0.001",
           "cpus:2;mem:1024;ports:[31000-32000,33000-33001];disks:{a,b};cpus(web):1",
           "disk(db,alice)[vol-1:/data]:100",
           "gpus(ml):1;mem(ml):2048",
           "",
       }) {
    Resources resources = Parse(text);
    EXPECT_EQ(resources.ToString(), text);
    EXPECT_EQ(Parse(resources.ToString()), resources);
  }
}

TEST(ResourcesParseTest, ParsesEntries) {
  Resources r = Parse(" cpus : 1.5 ; mem:256;ports:[1000-1001, 2000];labels:{x, y};cpus(web):1;");
  EXPECT_EQ(r.GetMillis("cpus"), 2500);
  EXPECT_DOUBLE_EQ(r.Get("mem"), 256);
  EXPECT_EQ(r.GetRanges("ports"), (std::vector<Range>{{1000, 1001}, {2000, 2000}}));
  ASSERT_EQ(r.entries().size(), 5u);
  EXPECT_EQ(r.entries()[3].set, (std::set<std::string>{"x", "y"}));
  EXPECT_EQ(r.entries()[4].role, "web");
  EXPECT_TRUE(r.entries()[4].reserved());
  EXPECT_FALSE(r.entries()[0].reserved());
}

TEST(ResourcesParseTest, NormalizesAndMerges) {
  EXPECT_EQ(Parse("ports:[3-4,1-2,10-12,11-11]").ToString(), "ports:[1-4,10-12]");
  EXPECT_EQ(Parse("cpus:1;mem:2;cpus:2").ToString(), "cpus:3;mem:2");
  EXPECT_EQ(Parse("cpus:1.0000").ToString(), "cpus:1");
  EXPECT_EQ(Parse("cpus:0").ToString(), "");
  EXPECT_EQ(Parse("mem:1e3").ToString(), "mem:1000");
}

TEST(ResourcesParseTest, AppliesTheDefaultRole) {
  Resources r = Parse("cpus:1;mem(other):2", "web");
  EXPECT_EQ(r.ToString(), "cpus(web):1;mem(other):2");
  EXPECT_FALSE(Resources::Parse("cpus:1", "bad role").ok());
}

TEST(ResourcesParseTest, ErrorsNameTheBadEntry) {
  EXPECT_EQ(ParseError("cpus:2;cpus:x"), "resource 'cpus:x': 'x' is not a number");
  EXPECT_EQ(ParseError("mem"), "resource 'mem': expected 'name:value'");
  EXPECT_EQ(ParseError("cpus:-1"), "resource 'cpus:-1': '-1' is negative");
  EXPECT_EQ(ParseError("ports:[5-1]"), "resource 'ports:[5-1]': range '5-1' ends before it begins");
  EXPECT_EQ(ParseError("ports:[1-x]"),
            "resource 'ports:[1-x]': '1-x' is not a range like 31000-32000");
  EXPECT_EQ(ParseError("ports:[1-2"),
            "resource 'ports:[1-2': missing ']' at the end of the ranges");
  EXPECT_EQ(ParseError("ports:8080"),
            "resource 'ports:8080': ports must be ranges like [31000-32000], not a scalar");
  EXPECT_EQ(ParseError("cpus:{a}"), "resource 'cpus:{a}': cpus must be a scalar, not a set");
  EXPECT_EQ(ParseError("x:1;x:[1-2]"), "resource 'x:[1-2]': 'x' was already given as a scalar");
  EXPECT_EQ(ParseError(":1"), "resource ':1': '' is not a valid resource name");
  EXPECT_EQ(ParseError("cpus(web:1"), "resource 'cpus(web:1': missing ')' after the role");
  EXPECT_EQ(ParseError("cpus(a b):1"), "resource 'cpus(a b):1': 'a b' is not a valid role");
  EXPECT_EQ(ParseError("cpus:"), "resource 'cpus:': missing value");
  EXPECT_EQ(ParseError("disks:{a,}"), "resource 'disks:{a,}': '' is not a valid set item");
  EXPECT_EQ(ParseError("cpus:nan"), "resource 'cpus:nan': 'nan' is not a number");
  EXPECT_EQ(ParseError("cpus:1e300"), "resource 'cpus:1e300': '1e300' is too large");
}

TEST(ResourcesScalarTest, AddSubtractContains) {
  Resources a = Parse("cpus:2;mem:1024");
  Resources b = Parse("cpus:0.5;mem:512");
  EXPECT_EQ((a + b).ToString(), "cpus:2.5;mem:1536");
  EXPECT_EQ((a - b).ToString(), "cpus:1.5;mem:512");
  Resources doubled = Parse("cpus:1;ports:[1-2];disks:{x}");
  doubled += doubled;
  EXPECT_EQ(doubled.ToString(), "cpus:2;ports:[1-2];disks:{x}");
  EXPECT_TRUE(a.Contains(b));
  EXPECT_FALSE(b.Contains(a));
  EXPECT_TRUE(a.Contains(a));
  EXPECT_TRUE(a.Contains(Resources()));
  EXPECT_FALSE(a.Contains(Parse("disk:1")));
  // Subtraction takes what is there and drops entries that reach zero.
  EXPECT_EQ((b - a).ToString(), "");
  EXPECT_TRUE((a - a).empty());
  EXPECT_EQ((a - Parse("cpus:2")).ToString(), "mem:1024");
}

TEST(ResourcesScalarTest, FixedPointIsExact) {
  Resources sum;
  Resources tenth = Resources::Scalar("cpus", 0.1);
  for (int i = 0; i < 1000; ++i) sum += tenth;
  EXPECT_EQ(sum.GetMillis("cpus"), 100000);
  EXPECT_EQ(sum, Parse("cpus:100"));
  EXPECT_EQ(sum.ToString(), "cpus:100");
  for (int i = 0; i < 1000; ++i) sum -= tenth;
  EXPECT_TRUE(sum.empty()) << sum.ToString();
  EXPECT_EQ(Resources::Scalar("mem", 0.0004).ToString(), "");  // Below a milli.
  EXPECT_EQ(Resources::Scalar("mem", 0.0006).ToString(), "mem:0.001");
}

TEST(ResourcesRangesTest, MergesAdjacentAndSplitsOnSubtract) {
  Resources a = Resources::Ports({{1, 2}});
  a += Resources::Ports({{3, 4}});
  EXPECT_EQ(a.ToString(), "ports:[1-4]");
  a += Resources::Ports({{6, 8}});
  EXPECT_EQ(a.ToString(), "ports:[1-4,6-8]");
  a += Resources::Ports({{5, 5}});
  EXPECT_EQ(a.ToString(), "ports:[1-8]");

  Resources split = a - Resources::Ports({{3, 4}});
  EXPECT_EQ(split.ToString(), "ports:[1-2,5-8]");
  EXPECT_EQ((split - Resources::Ports({{1, 1}, {8, 8}})).ToString(), "ports:[2-2,5-7]");
  EXPECT_EQ((split - Resources::Ports({{0, 100}})).ToString(), "");
  // Subtracting what is not there leaves the rest.
  EXPECT_EQ((split - Resources::Ports({{3, 4}, {50, 60}})).ToString(), "ports:[1-2,5-8]");

  EXPECT_TRUE(a.Contains(Resources::Ports({{2, 3}, {7, 8}})));
  EXPECT_FALSE(split.Contains(Resources::Ports({{2, 5}})));
  EXPECT_FALSE(split.Contains(Resources::Ports({{9, 9}})));
  EXPECT_EQ((split + Resources::Ports({{3, 4}})), a);
}

TEST(ResourcesRangesTest, HandlesTheEdgesOfTheNumberLine) {
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  Resources all = Resources::Ports({{0, kMax}});
  EXPECT_EQ((all - Resources::Ports({{0, 0}, {kMax, kMax}})).GetRanges("ports"),
            (std::vector<Range>{{1, kMax - 1}}));
  Resources top = Resources::Ports({{kMax - 1, kMax}});
  top += Resources::Ports({{kMax, kMax}});
  EXPECT_EQ(top.GetRanges("ports"), (std::vector<Range>{{kMax - 1, kMax}}));
}

TEST(ResourcesSetTest, UnionDifferenceContains) {
  Resources a = Parse("disks:{a,b}");
  Resources b = Parse("disks:{b,c}");
  EXPECT_EQ((a + b).ToString(), "disks:{a,b,c}");
  EXPECT_EQ((a - b).ToString(), "disks:{a}");
  EXPECT_EQ((a - a).ToString(), "");
  EXPECT_TRUE((a + b).Contains(a));
  EXPECT_FALSE(a.Contains(b));
}

TEST(ResourcesRoleTest, RolesAreKeptSeparate) {
  Resources r = Parse("cpus:1;cpus(web):2;mem(web):64;ports(web):[1-2]");
  EXPECT_EQ(r.entries().size(), 4u);
  EXPECT_DOUBLE_EQ(r.Get("cpus"), 3);
  EXPECT_EQ(r.Unreserved().ToString(), "cpus:1");
  EXPECT_EQ(r.AllocatableTo("web"), r);
  EXPECT_EQ(r.AllocatableTo("db").ToString(), "cpus:1");
  // Unreserved cpus do not cover reserved ones, nor the other way round.
  EXPECT_FALSE(r.Contains(Parse("cpus:2")));
  EXPECT_FALSE(Parse("cpus(web):5").Contains(Parse("cpus:1")));
  EXPECT_EQ((r - Parse("cpus:5")).ToString(), "cpus(web):2;mem(web):64;ports(web):[1-2]");
  EXPECT_EQ((r - Parse("cpus(web):5")).ToString(), "cpus:1;mem(web):64;ports(web):[1-2]");
  EXPECT_EQ(r.WithRole("*").ToString(), "cpus:3;mem:64;ports:[1-2]");
  EXPECT_EQ(Parse("cpus(web,alice):1").WithRole("db").ToString(), "cpus(db):1");
  EXPECT_EQ(r.GetRanges("ports"), (std::vector<Range>{{1, 2}}));
}

TEST(ResourcesTest, EqualityIgnoresOrder) {
  EXPECT_EQ(Parse("cpus:1;mem:2"), Parse("mem:2;cpus:1"));
  EXPECT_FALSE(Parse("cpus:1;mem:2") == Parse("cpus:1;mem:3"));
  EXPECT_FALSE(Parse("cpus:1") == Parse("cpus(web):1"));
  EXPECT_FALSE(Parse("cpus:1") == Parse("cpus:1;mem:1"));
}

TEST(ResourcesTest, ScalarNamesAndFilter) {
  Resources r = Parse("mem:1;cpus:1;cpus(web):1;ports:[1-2];gpus:1");
  EXPECT_EQ(r.ScalarNames(), (std::vector<std::string>{"cpus", "gpus", "mem"}));
  EXPECT_EQ(r.Filter([](const Resource& e) { return e.name == "cpus"; }).ToString(),
            "cpus:1;cpus(web):1");
  EXPECT_EQ(r.GetMillis("disk"), 0);
}

TEST(ValidateTaskResourcesTest, AcceptsSaneResources) {
  EXPECT_TRUE(ValidateTaskResources(Parse("cpus:0.1;mem:32;ports:[31000-31001]")).ok());
  EXPECT_TRUE(ValidateTaskResources(Parse("disk(db,alice)[vol:/data]:10;gpus:2")).ok());
  EXPECT_TRUE(ValidateTaskResources(Resources()).ok());
}

TEST(ValidateTaskResourcesTest, RejectsWhatIsWrong) {
  auto error = [](const Resource& resource) {
    Resources resources;
    resources.Add(resource);
    Status status = ValidateTaskResources(resources);
    EXPECT_FALSE(status.ok()) << resources.ToString();
    return status.ok() ? std::string() : status.message();
  };
  auto scalar = [](const std::string& name, int64_t millis) {
    Resource resource;
    resource.name = name;
    resource.scalar_millis = millis;
    return resource;
  };
  auto ranges = [](const std::string& name, std::vector<Range> values) {
    Resource resource;
    resource.name = name;
    resource.type = Resource::Type::kRanges;
    resource.ranges = std::move(values);
    return resource;
  };

  EXPECT_EQ(error(scalar("cpus", -500)), "resource 'cpus': negative value -0.5");
  EXPECT_EQ(error(ranges("ports", {{10, 5}})),
            "resource 'ports': range 10-5 ends before it begins");
  EXPECT_EQ(error(scalar("ports", 1000)),
            "resource 'ports': ports must be ranges like [31000-32000], not a scalar");
  EXPECT_EQ(error(ranges("mem", {{1, 2}})), "resource 'mem': mem must be a scalar, not ranges");
  EXPECT_EQ(error(scalar("gpus", 500)), "resource 'gpus': 0.5 is not a whole number of gpus");
  EXPECT_EQ(error(scalar("c;pus", 1000)), "resource 'c;pus': not a valid resource name");

  Resource unknown_type = scalar("x", 1);
  unknown_type.type = static_cast<Resource::Type>(7);
  EXPECT_EQ(error(unknown_type), "resource 'x': unknown type 7");

  Resource principal = scalar("cpus", 1000);
  principal.principal = "alice";
  EXPECT_EQ(error(principal),
            "resource 'cpus': a reservation principal needs a role other than '*'");

  Resource volume = scalar("disk", 1000);
  volume.persistence_id = "vol";
  volume.container_path = "/data";
  EXPECT_EQ(error(volume), "resource 'disk': persistent volume 'vol' must be reserved to a role");
  volume.role = "db";
  volume.container_path = "";
  EXPECT_EQ(error(volume),
            "resource 'disk': a persistent volume needs both an id and a container path");

  Resource bad_role = scalar("cpus", 1000);
  bad_role.role = "";
  EXPECT_EQ(error(bad_role), "resource 'cpus': '' is not a valid role");
}

TEST(IdsTest, UuidsAreWellFormedAndUnique) {
  std::set<std::string> seen;
  std::mutex mutex;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      std::vector<std::string> mine;
      for (int i = 0; i < 1000; ++i) mine.push_back(NewUuid());
      std::lock_guard<std::mutex> lock(mutex);
      seen.insert(mine.begin(), mine.end());
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(seen.size(), 4000u);
  for (const std::string& uuid : seen) {
    ASSERT_EQ(uuid.size(), 36u) << uuid;
    for (size_t i = 0; i < uuid.size(); ++i) {
      if (i == 8 || i == 13 || i == 18 || i == 23) {
        ASSERT_EQ(uuid[i], '-') << uuid;
      } else {
        ASSERT_TRUE(std::isxdigit(static_cast<unsigned char>(uuid[i])) && !std::isupper(uuid[i]))
            << uuid;
      }
    }
    EXPECT_EQ(uuid[14], '4') << uuid;                                          // version 4
    EXPECT_NE(std::string("89ab").find(uuid[19]), std::string::npos) << uuid;  // variant 1
  }
}

TEST(IdsTest, NewIdJoinsPrefixWithOneDash) {
  EXPECT_EQ(NewId("agent").rfind("agent-", 0), 0u);
  EXPECT_EQ(NewId("agent").size(), 6u + 36u);
  EXPECT_EQ(NewId("agent-").size(), 6u + 36u);
  EXPECT_EQ(NewId("").size(), 36u);
  EXPECT_NE(NewId("task"), NewId("task"));
}

}  // namespace
}  // namespace stoa
