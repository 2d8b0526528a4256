//! `{"error": {"code", "message", "field"?}}` with a fitting 4xx; a 5xx logs
//! its detail and answers a generic body.
use http::StatusCode;

use crate::app::AppError;
use crate::domain::ValidationError;
use crate::domain::intake_body::BodyError;
use crate::ports::StoreError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or invalid API key (send `Authorization: Bearer <key>`)",
        )
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "method not allowed on this path",
        )
    }

    #[cfg(feature = "runtime")]
    pub fn into_response(self) -> lambda_http::Response<lambda_http::Body> {
        use super::schema::{ErrorBody, ErrorDetail};
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message,
                field: self.field,
            },
        };
        super::request::json_response(self.status, &body)
    }
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_request",
            message: e.to_string(),
            field: e.field,
        }
    }
}

impl From<BodyError> for ApiError {
    fn from(e: BodyError) -> Self {
        match e {
            BodyError::Invalid(v) => v.into(),
            BodyError::TooLarge { index, .. } => {
                let mut err = Self::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    e.to_string(),
                );
                err.field = index.map(|i| format!("events[{i}]"));
                err
            }
        }
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Invalid(v) => v.into(),
            AppError::Unauthorized => Self::unauthorized(),
            AppError::PortalLinkEnded => Self::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "this portal link has expired or was revoked: ask for a new one",
            ),
            AppError::Forbidden { code, message } => {
                Self::new(StatusCode::FORBIDDEN, code, message)
            }
            AppError::NotFound(what) => Self::not_found(what),
            AppError::Conflict(message) => Self::new(StatusCode::CONFLICT, "conflict", message),
            AppError::Store(StoreError::BadCursor) => {
                let mut e = Self::bad_request(
                    "the cursor is not valid: use the `next_cursor` of the previous page",
                );
                e.field = Some("cursor".into());
                e
            }
            AppError::Store(StoreError::AlreadyExists) => {
                Self::new(StatusCode::CONFLICT, "conflict", "it already exists")
            }
            AppError::Store(StoreError::Unavailable(source)) => {
                tracing::error!(error = %crate::telemetry::chain(&*source), "store unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "storage is unavailable, try again shortly",
                )
            }
            AppError::Queue(err) => {
                tracing::error!(error = %crate::telemetry::chain(&err), "queue unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the queue is unavailable, nothing was accepted; try again shortly",
                )
            }
            AppError::Store(err @ StoreError::Internal(_)) => {
                tracing::error!(error = %crate::telemetry::chain(&err), "store request failed");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error",
                )
            }
            AppError::Store(err @ StoreError::Corrupt(_)) => {
                tracing::error!(error = %err, "corrupt item");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error",
                )
            }
        }
    }
}
