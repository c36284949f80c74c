/**
 * Small synchronous helpers shared by the GPIO backends. They run at open/close time, possibly on
 * the control worker, which never returns to its event loop: so no timers and no promises (the
 * blocking sleep they use is ../sleep.ts).
 */

/** The errno code of a Node system error, or undefined. */
export function errorCode(error: unknown): string | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export const PERMISSION_FIX =
  'add the embody user to group gpio (Debian/Raspberry Pi OS: `usermod -aG gpio embody`, with the udev rule ' +
  'that gives group gpio the GPIO files), or run with that access';

/** A sentence telling how to fix a failed file operation on a GPIO path. */
export function fixFor(error: unknown): string {
  switch (errorCode(error)) {
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return errorCode(error) === 'EROFS'
        ? '/sys is mounted read-only here (systemd ProtectKernelTunables=yes breaks sysfs GPIO)'
        : PERMISSION_FIX;
    case 'EBUSY':
      return 'the line is already in use (a kernel driver or device-tree overlay, or a character-device user such as gpiomon/gpioset): check with `gpioinfo`';
    case 'EINVAL':
      return 'the kernel refused the value: check that the chip and line are right (see `gpiodetect`, `gpioinfo`)';
    case 'ENOENT':
      return 'the file does not exist: the kernel has no sysfs GPIO for this line, or the line is not exported';
    default:
      return 'see the kernel log (dmesg) for the GPIO driver';
  }
}
