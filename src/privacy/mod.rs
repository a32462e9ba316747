//! Data-subject rights (GDPR): the people in conversations as data subjects, their
//! requests (access, export, rectification, erasure, restriction and AI opt-out),
//! org offboarding, and the records-of-processing report (Art. 30).

pub mod export;
pub mod offboard;
pub mod records;
pub mod requests;
pub mod subjects;
