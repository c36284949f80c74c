/**
 * The safety room's door. Every actuator command is a SafeCommand, and only the envelope
 * makes them; the rest of this folder bounds what the envelope may aim for.
 */
export { JointEnvelope, Intervention, interventionNames, Verdict, warmUpEnvelope, type VerdictCode } from './envelope.js';
export { jointLimitProblems, limitsFromJoints, type EnvelopeLimits } from './limits.js';
export { SafeCommand } from './safe-command.js';
export { stopDistanceUp } from './braking.js';
export { WorkspaceGuard, type WorkspaceBox } from './workspace.js';
export { ContactLimits, type GripLimit } from './contact-limits.js';
export { DeviationMonitor } from './standstill.js';
export { TimingMonitor, TimingFlag, STALL_PERIODS, type TimingLimits } from './timing.js';
export { SafetySupervisor, ResetRefusal, Stop, StopCause, type EnvelopeState, type ResetRefusalCode, type StopCauseCode, type StopCode, type SupervisorReport } from './supervisor.js';
