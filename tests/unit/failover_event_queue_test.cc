// The failover events queue: which queue each poll and acknowledgement reaches, through an outage
// of the primary and its end.
#include "distributed/failover_event_queue.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace prism::distributed {
namespace {

using namespace std::chrono_literals;

// A queue that returns one event per poll at an increasing position, or throws while `down`.
class FakeQueue final : public storage::EventQueue {
 public:
  explicit FakeQueue(int64_t first_position) : next_position_(first_position) {}

  std::vector<domain::Event> Poll(std::string_view, size_t, std::chrono::milliseconds) override {
    ++polls;
    if (down) throw storage::StorageUnavailable("fake queue is down");
    domain::Event event;
    event.position = next_position_++;
    return {event};
  }
  void Ack(std::string_view, int64_t position) override {
    if (down) throw storage::StorageUnavailable("fake queue is down");
    acked.push_back(position);
  }
  void DeadLetter(const domain::Event& event, std::string_view) override {
    dead.push_back(event.position);
  }

  bool down = false;
  int polls = 0;
  std::vector<int64_t> acked;
  std::vector<int64_t> dead;

 private:
  int64_t next_position_;
};

TEST(FailoverEventQueue, PollsThePrimaryWhileItIsUp) {
  auto primary = std::make_shared<FakeQueue>(100);
  auto fallback = std::make_shared<FakeQueue>(1);
  FailoverEventQueue queue(primary, fallback);

  EXPECT_EQ(queue.Poll("p", 10, 0ms).at(0).position, 100);
  EXPECT_EQ(fallback->polls, 0);
  EXPECT_FALSE(queue.OnFallback());
}

TEST(FailoverEventQueue, FallsBackDuringOutageAndReturns) {
  auto primary = std::make_shared<FakeQueue>(100);
  auto fallback = std::make_shared<FakeQueue>(1);
  FailoverEventQueue queue(primary, fallback, 50ms);

  primary->down = true;
  EXPECT_EQ(queue.Poll("p", 10, 0ms).at(0).position, 1);
  EXPECT_TRUE(queue.OnFallback());

  // Within the probe interval the primary is not asked again.
  int primary_polls = primary->polls;
  EXPECT_EQ(queue.Poll("p", 10, 0ms).at(0).position, 2);
  EXPECT_EQ(primary->polls, primary_polls);

  primary->down = false;
  std::this_thread::sleep_for(60ms);
  EXPECT_EQ(queue.Poll("p", 10, 0ms).at(0).position, 100);
  EXPECT_FALSE(queue.OnFallback());
}

TEST(FailoverEventQueue, AcknowledgesBothQueuesUntilOutage) {
  auto primary = std::make_shared<FakeQueue>(100);
  auto fallback = std::make_shared<FakeQueue>(1);
  FailoverEventQueue queue(primary, fallback);

  queue.Ack("p", 7);
  EXPECT_EQ(primary->acked, std::vector<int64_t>{7});
  EXPECT_EQ(fallback->acked, std::vector<int64_t>{7});

  primary->down = true;
  EXPECT_NO_THROW(queue.Ack("p", 8));
  EXPECT_TRUE(queue.OnFallback());
  queue.Ack("p", 9);
  EXPECT_EQ(fallback->acked, (std::vector<int64_t>{7, 8, 9}));
  EXPECT_EQ(primary->acked, std::vector<int64_t>{7});
}

TEST(FailoverEventQueue, FallbackOutageIsReportedToTheCaller) {
  auto primary = std::make_shared<FakeQueue>(100);
  auto fallback = std::make_shared<FakeQueue>(1);
  FailoverEventQueue queue(primary, fallback);

  primary->down = true;
  fallback->down = true;
  EXPECT_THROW(queue.Poll("p", 10, 0ms), storage::StorageUnavailable);
  EXPECT_THROW(queue.Ack("p", 1), storage::StorageUnavailable);
}

TEST(FailoverEventQueue, DeadLettersGoToTheEventStore) {
  auto primary = std::make_shared<FakeQueue>(100);
  auto fallback = std::make_shared<FakeQueue>(1);
  FailoverEventQueue queue(primary, fallback);
  domain::Event event;
  event.position = 5;
  queue.DeadLetter(event, "bad");
  EXPECT_EQ(fallback->dead, std::vector<int64_t>{5});
  EXPECT_TRUE(primary->dead.empty());
}

}  // namespace
}  // namespace prism::distributed
