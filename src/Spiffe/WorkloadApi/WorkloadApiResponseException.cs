namespace Spiffe.WorkloadApi;

/// <summary>
/// The Workload API answered with a message that is missing a mandatory field or holds invalid data.
/// The message is never passed on to the caller.
/// </summary>
public sealed class WorkloadApiResponseException : Exception
{
    /// <summary>Creates the exception with what is wrong as its message.</summary>
    public WorkloadApiResponseException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with no message.</summary>
    public WorkloadApiResponseException()
    {
    }

    /// <summary>Creates the exception wrapping the cause.</summary>
    public WorkloadApiResponseException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
