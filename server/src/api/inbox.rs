//! How a command's [`CommandError`] reads over HTTP. The commands themselves are
//! `service::commands`, shared with the socket.

use crate::web::StatusCode;

use super::Failure;
use crate::domain::CommandError;
use crate::service::inbox::InboxError;
use crate::service::outbound::OutboundError;

impl From<CommandError> for Failure {
    fn from(e: CommandError) -> Self {
        let status = match &e {
            CommandError::NotFound(_) => StatusCode::NOT_FOUND,
            CommandError::Moved(_) => StatusCode::GONE,
            CommandError::UnknownMessage(_)
            | CommandError::Filtered { .. }
            | CommandError::Rejected(_)
            | CommandError::OutsideWindow(_) => StatusCode::UNPROCESSABLE_ENTITY,
            CommandError::AgentNotConnected(_)
            | CommandError::AlreadyResolved
            | CommandError::AlreadyOpen
            | CommandError::NothingToRead
            | CommandError::KeyReused(_)
            | CommandError::NoWaba(_)
            | CommandError::Conflict(_) => StatusCode::CONFLICT,
            CommandError::SendFailed(_) => StatusCode::BAD_GATEWAY,
            CommandError::Invalid(_) => StatusCode::BAD_REQUEST,
            CommandError::NotStored
            | CommandError::StoreUnavailable
            | CommandError::CannotWrite(..)
            | CommandError::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
        };
        let mut failure = Failure::new(status, e.code(), e.to_string());
        if let CommandError::Filtered { matches, .. } = e {
            failure.matches = matches;
        }
        failure
    }
}

impl From<InboxError> for Failure {
    fn from(e: InboxError) -> Self {
        CommandError::from(e).into()
    }
}

impl From<OutboundError> for Failure {
    fn from(e: OutboundError) -> Self {
        CommandError::from(e).into()
    }
}
