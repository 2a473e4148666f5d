//! A request the dispatcher understood: the operation, the protocol it
//! came in, and its input, parsed once; then, for the handler, who is
//! calling.

use std::net::IpAddr;

use axum::body::Bytes;
use cognate_core::Caller;

use crate::form::Params;
use crate::operation::Operation;
use crate::state::AppState;
use crate::wire_error::Protocol;

/// The input of a call, as it arrived.
pub enum Input {
    /// A JSON 1.1 body, decoded into the operation's typed input by its
    /// handler, after authentication (`handlers::dispatch`).
    Json(Bytes),
    /// Query parameters: from the form body and the query string, or, for
    /// a presigned request, from its signed query string alone; read into
    /// the operation's typed input by its handler (`query::call`).
    Query(Params),
}

pub struct Call {
    pub operation: Operation,
    pub protocol: Protocol,
    pub input: Input,
}

/// What a handler knows of its request besides the input.
pub struct Context<'a> {
    pub state: &'a AppState,
    /// Who is calling, as authenticated; the domain authorizes it.
    pub caller: Caller,
    /// The client the abuse limits count (`client_address`).
    pub client: IpAddr,
    pub request_id: &'a str,
}

impl Context<'_> {
    pub fn cognate(&self) -> &cognate_core::Cognate {
        &self.state.cognate
    }
}
