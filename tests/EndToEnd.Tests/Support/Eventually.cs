namespace EndToEnd.Tests.Support;

/// <summary>Polls a condition on real processes until it holds, failing with what was last seen.</summary>
internal static class Eventually
{
    public static async Task HoldsAsync(Func<Task<bool>> condition, TimeSpan timeout, Func<string> whatWasSeen)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"not within {timeout}: {whatWasSeen()}");
            }

            await Task.Delay(200);
        }
    }
}
