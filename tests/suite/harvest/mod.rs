mod bad_answers;
mod onboarding;
mod one_school;
mod removal_guard;
mod semantics;
