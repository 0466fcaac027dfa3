#pragma once

/// The umbrella header of phx: the facade (`phx::socket`, `phx::channel`,
/// `phx::push`, `phx::presence`) and, for CAF users, the typed actor
/// interfaces (`phx/actors/actors.hpp`).

#include "phx/actors/actors.hpp"
#include "phx/actors/error.hpp"
#include "phx/actors/logger.hpp"
#include "phx/channel.hpp"
#include "phx/json.hpp"
#include "phx/presence.hpp"
#include "phx/protocol/message.hpp"
#include "phx/protocol/payload.hpp"
#include "phx/push.hpp"
#include "phx/socket.hpp"
